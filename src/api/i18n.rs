//! The caller's language (`Accept-Language`: `en` or `zh-CN`). The texts of problem and field
//! codes are in `problem::catalog`.

/// A language the service answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// English (the default).
    En,
    /// Simplified Chinese.
    ZhCn,
}

/// The caller's language, for a handler that takes `language: Language`.
impl<'a> poem::FromRequest<'a> for Language {
    async fn from_request(
        req: &'a poem::Request,
        _body: &mut poem::RequestBody,
    ) -> poem::Result<Self> {
        Ok(Self::of(req))
    }
}

impl Language {
    /// The caller's language: the best supported one for the request's `Accept-Language`.
    pub fn of(req: &poem::Request) -> Self {
        Self::negotiate(
            req.headers()
                .get(poem::http::header::ACCEPT_LANGUAGE)
                .and_then(|value| value.to_str().ok()),
        )
    }

    /// The best supported language for an `Accept-Language` header.
    pub fn negotiate(accept_language: Option<&str>) -> Self {
        let Some(header) = accept_language else {
            return Self::En;
        };
        let mut best = (Self::En, 0.0_f32);
        for entry in header.split(',') {
            let mut parts = entry.trim().split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                .unwrap_or(1.0);
            let language = if tag.starts_with("zh") {
                Some(Self::ZhCn)
            } else if tag.starts_with("en") || tag == "*" {
                Some(Self::En)
            } else {
                None
            };
            if let Some(language) = language.filter(|_| quality > best.1) {
                best = (language, quality);
            }
        }
        best.0
    }

    /// The language's tag, for `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::ZhCn => "zh-CN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_supported_language_wins() {
        assert_eq!(Language::negotiate(None), Language::En);
        assert_eq!(Language::negotiate(Some("zh-CN")), Language::ZhCn);
        assert_eq!(
            Language::negotiate(Some("zh-CN,zh;q=0.9,en;q=0.8")),
            Language::ZhCn
        );
        assert_eq!(
            Language::negotiate(Some("en;q=0.9, zh;q=0.4")),
            Language::En
        );
        assert_eq!(Language::negotiate(Some("fr, zh;q=0.5")), Language::ZhCn);
        assert_eq!(Language::negotiate(Some("fr")), Language::En);
    }
}
