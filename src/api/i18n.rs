//! The caller's language (`Accept-Language`: `en` or `zh-CN`) and the titles of problem codes.

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

/// Title of a problem or field code in a language.
pub fn title_of(code: &str, language: Language) -> &'static str {
    let (en, zh) = match code {
        "invalid_body" => (
            "The request body is not valid JSON of the expected shape",
            "请求体不是预期格式的 JSON",
        ),
        "invalid_request" => ("The request is malformed", "请求格式错误"),
        "unauthenticated" => ("Sign in first", "请先登录"),
        "not_found" => ("Not found", "未找到"),
        "method_not_allowed" => ("Method not allowed", "不支持该请求方法"),
        "payload_too_large" => ("The request body is too large", "请求体过大"),
        "unsupported_media_type" => (
            "Send the body as application/json",
            "请以 application/json 发送请求体",
        ),
        "internal_error" => ("Something went wrong on our side", "服务器内部错误"),
        "service_unavailable" => (
            "Temporarily unavailable, retry shortly",
            "服务暂时不可用，请稍后重试",
        ),
        "validation_failed" => ("Some fields are invalid", "部分字段无效"),
        "invalid_credentials" => ("Wrong account or password", "账号或密码错误"),
        "wrong_password" => ("The password is wrong", "密码错误"),
        "account_blocked" => ("This account is blocked", "该账号已被封禁"),
        "account_not_found" => ("No such account", "账号不存在"),
        "session_not_found" => ("No such session", "会话不存在"),
        "user_not_found" => ("No such user", "用户不存在"),
        "too_many_requests" => ("Too many requests, retry later", "请求过于频繁，请稍后再试"),
        "code_invalid" => ("The code is not valid", "验证码错误或已失效"),
        "unknown_field" => ("No such field", "字段不存在"),
        "duplicate_field" => (
            "This field appears more than once",
            "该字段在同一对象中重复出现",
        ),
        "wrong_type" => ("This field has the wrong type", "字段类型或取值不正确"),
        "unknown_event_type" => ("No such event type", "事件类型不存在"),
        "invalid_path_parameter" => ("This path parameter is not valid", "路径参数无效"),
        "last_owner" => (
            "The last owner cannot be demoted or deleted",
            "不能降级或删除最后一位所有者",
        ),
        "forbidden" => ("Your role does not allow this", "权限不足"),
        "cannot_block_self" => ("You cannot block your own account", "不能封禁自己的账号"),
        "cannot_follow_self" => ("You cannot follow yourself", "不能关注自己"),
        "group_not_found" => ("No such group", "分组不存在"),
        "group_exists" => ("A group with this name exists", "分组已存在"),
        "group_limit_reached" => ("Too many groups", "分组数量已达上限"),
        "group_undeletable" => ("This group cannot be deleted", "默认分组不能删除"),
        "invalid_group_name" => (
            "A group name has 1 to 20 characters",
            "分组名为 1 到 20 个字符",
        ),
        "not_following" => ("You do not follow this user", "未关注该用户"),
        "follows_hidden" => ("This user hides their follows", "该用户未公开关注列表"),
        "address_not_found" => ("No such address", "地址不存在"),
        "address_limit_reached" => ("The address book is full", "收货地址数量已达上限"),
        "no_email" => ("The account has no email address", "账号未绑定邮箱"),
        "email_already_verified" => ("The email address is already verified", "邮箱已验证"),
        "email_not_verified" => ("Verify your email address first", "请先验证邮箱"),
        "code_expired" => ("The code has expired", "验证码已过期"),
        "captcha_required" => ("Solve the captcha to continue", "请先完成人机验证"),
        "captcha_invalid" => ("The captcha solution is not valid", "人机验证无效或已过期"),
        "read_model_behind" => ("Not up to date yet", "数据尚未同步，请稍后重试"),
        "position_ahead" => (
            "min_position is beyond the end of the log",
            "min_position 超出了事件日志的末尾",
        ),
        "email_taken" => ("This email address is already registered", "该邮箱已被注册"),
        "username_taken" => ("This username is already taken", "该用户名已被占用"),
        "phone_taken" => (
            "This phone number is already registered",
            "该手机号已被注册",
        ),
        "idempotency_key_in_use" => (
            "A request with this Idempotency-Key is still running",
            "使用该幂等键的请求仍在处理中",
        ),
        "idempotency_key_reused" => (
            "This Idempotency-Key was used for another request",
            "该幂等键已用于其他请求",
        ),
        "identifier_required" => ("Give an email or a username", "请提供邮箱或用户名"),
        "one_identifier_only" => (
            "Give only one of email and username",
            "邮箱和用户名只能提供一个",
        ),
        "invalid_email" => ("This is not a valid email address", "邮箱格式错误"),
        "invalid_username" => (
            "A username has 3 to 30 letters, digits or underscores and starts with a letter",
            "用户名为 3 到 30 位字母、数字或下划线，且以字母开头",
        ),
        "invalid_phone" => ("This is not a valid phone number", "手机号格式错误"),
        "password_too_short" => ("A password has at least 8 characters", "密码至少 8 位"),
        "password_too_long" => ("A password has at most 128 characters", "密码最多 128 位"),
        "password_too_weak" => ("This password is too easy to guess", "密码太容易被猜到"),
        "password_unchanged" => (
            "The new password must differ from the current one",
            "新密码不能与旧密码相同",
        ),
        "invalid_display_name" => (
            "A display name has 1 to 32 characters",
            "昵称为 1 到 32 个字符",
        ),
        "invalid_bio" => ("A bio has at most 500 characters", "简介最多 500 个字符"),
        "invalid_url" => ("Give an http or https URL", "请提供 http 或 https 链接"),
        "invalid_place" => (
            "A place name has 1 to 64 characters",
            "地名为 1 到 64 个字符",
        ),
        "invalid_birthday" => (
            "A birthday lies between 1900-01-01 and today",
            "生日须在 1900-01-01 与今天之间",
        ),
        "required" => ("This field is required", "此字段为必填项"),
        _ => ("The request failed", "请求失败"),
    };
    match language {
        Language::En => en,
        Language::ZhCn => zh,
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
