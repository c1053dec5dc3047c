//! Mail texts, in English and Simplified Chinese, as plain text and HTML.

use crate::domain::code::Purpose;

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// The mail carrying a one-time code for `purpose` (and a link, for verification and reset),
/// in `locale` (`zh-CN`, else English).
pub fn render_code(purpose: Purpose, locale: &str, code: &str, link: Option<&str>) -> Rendered {
    let chinese = locale.eq_ignore_ascii_case("zh-CN") || locale.starts_with("zh");
    let (subject, intro, validity, ignore) = if chinese {
        let action = match purpose {
            Purpose::SignUp => "注册账号",
            Purpose::SignIn => "登录",
            Purpose::VerifyEmail => "验证邮箱",
            Purpose::ResetPassword => "重置密码",
            Purpose::ChangeEmail => "更换邮箱",
            Purpose::ChangePhone => "更换手机号",
            Purpose::DeleteAccount => "注销账号",
        };
        (
            format!("您的{action}验证码"),
            format!("您正在{action}，验证码是："),
            "验证码 10 分钟内有效，只能使用一次。".to_owned(),
            "如果这不是您本人的操作，请忽略本邮件，并不要把验证码告诉任何人。".to_owned(),
        )
    } else {
        let action = match purpose {
            Purpose::SignUp => "sign up",
            Purpose::SignIn => "sign in",
            Purpose::VerifyEmail => "verify your email address",
            Purpose::ResetPassword => "reset your password",
            Purpose::ChangeEmail => "change your email address",
            Purpose::ChangePhone => "change your phone number",
            Purpose::DeleteAccount => "delete your account",
        };
        (
            format!("Your code to {action}"),
            format!("Your code to {action} is:"),
            "The code is valid for 10 minutes and can be used once.".to_owned(),
            "If you did not ask for it, ignore this mail and do not share the code.".to_owned(),
        )
    };
    let (link_text, link_html) = match link {
        Some(link) => {
            let (lead, button) = match (chinese, purpose) {
                (true, Purpose::ResetPassword) => ("或打开这个链接（1 小时内有效）：", "打开链接"),
                (true, _) => ("或打开这个链接（24 小时内有效）：", "打开链接"),
                (false, Purpose::ResetPassword) => {
                    ("Or open this link (valid for 1 hour):", "Open the link")
                }
                (false, _) => ("Or open this link (valid for 24 hours):", "Open the link"),
            };
            let escaped = link.replace('&', "&amp;").replace('"', "&quot;");
            (
                format!("\n{lead}\n{link}\n"),
                format!("<p><a href=\"{escaped}\">{button}</a></p>"),
            )
        }
        None => (String::new(), String::new()),
    };
    let text = format!("{intro}\n\n    {code}\n{link_text}\n{validity}\n{ignore}\n");
    let html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif\">\
         <p>{intro}</p>\
         <p style=\"font-size: 28px; letter-spacing: 6px; font-weight: bold\">{code}</p>\
         {link_html}<p>{validity}</p><p style=\"color: #666\">{ignore}</p></body></html>"
    );
    Rendered {
        subject,
        text,
        html,
    }
}

/// A change to an account's second factors that its owner is told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// TOTP was turned on.
    TotpEnabled,
    /// TOTP was turned off (with its recovery codes).
    TotpRemoved,
    /// An administrator removed every second factor.
    SecondFactorsReset,
    /// A passkey was registered.
    PasskeyAdded,
    /// A passkey was removed.
    PasskeyRemoved,
}

impl Notice {
    /// Every notice.
    pub const ALL: [Self; 5] = [
        Self::TotpEnabled,
        Self::TotpRemoved,
        Self::SecondFactorsReset,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
    ];

    /// The account event that gives it.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::TotpEnabled => "TotpEnabled",
            Self::TotpRemoved => "TotpRemoved",
            Self::SecondFactorsReset => "SecondFactorsReset",
            Self::PasskeyAdded => "PasskeyAdded",
            Self::PasskeyRemoved => "PasskeyRemoved",
        }
    }

    /// The notice an account event gives its owner, if any.
    pub fn of(event_type: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|notice| notice.event_type() == event_type)
    }
}

/// The mail telling an account's owner that its second factors changed, in English and
/// Chinese (the event keeps no language): what happened, when (UTC), from which client address
/// and user agent, and what to do if it was not them.
pub fn render_notice(
    notice: Notice,
    at: chrono::DateTime<chrono::Utc>,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Rendered {
    let (en, zh) = notice_lines(notice);
    render_notice_lines(notice, en, zh, at, ip, user_agent)
}

/// What happened, in English and Chinese.
fn notice_lines(notice: Notice) -> (&'static str, &'static str) {
    match notice {
        Notice::TotpEnabled => (
            "Two-factor authentication (an authenticator app) was turned on for your account.",
            "您的账号已开启两步验证（身份验证器应用）。",
        ),
        Notice::TotpRemoved => (
            "Two-factor authentication was turned off for your account, and its recovery codes \
             no longer work.",
            "您的账号已关闭两步验证，原有恢复码已失效。",
        ),
        Notice::SecondFactorsReset => (
            "An administrator removed two-factor authentication from your account, and its \
             recovery codes no longer work.",
            "管理员已移除您账号的两步验证，原有恢复码已失效。",
        ),
        Notice::PasskeyAdded => (
            "A passkey was added to your account: it signs in to it, alone or as a second \
             factor.",
            "您的账号已添加一个通行密钥：它可以单独登录，也可用作两步验证。",
        ),
        Notice::PasskeyRemoved => (
            "A passkey was removed from your account.",
            "您的账号已移除一个通行密钥。",
        ),
    }
}

/// The text message telling the owner of an account without a proven email address that its
/// second factors changed: what happened and when, in Chinese and English (the event keeps no
/// language), and what to do if it was not them.
pub fn render_notice_sms(notice: Notice, at: chrono::DateTime<chrono::Utc>) -> String {
    let (en, zh) = notice_lines(notice);
    let when = at.format("%Y-%m-%d %H:%M UTC");
    format!(
        "{zh}（{when}）如非本人操作，请立即修改密码并联系客服。{en} ({when}) If this was not you, change your password now and contact support."
    )
}

fn render_notice_lines(
    notice: Notice,
    en: &str,
    zh: &str,
    at: chrono::DateTime<chrono::Utc>,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Rendered {
    // In ASCII, so that it reads the same in every client; the body has both languages.
    let subject = match notice {
        Notice::TotpEnabled => "Two-factor authentication is on",
        Notice::TotpRemoved | Notice::SecondFactorsReset => "Two-factor authentication is off",
        Notice::PasskeyAdded => "A passkey was added",
        Notice::PasskeyRemoved => "A passkey was removed",
    };
    let when = at.format("%Y-%m-%d %H:%M UTC").to_string();
    let mut details = vec![format!("When / 时间: {when}")];
    if notice != Notice::SecondFactorsReset {
        details.extend(ip.map(|ip| format!("Client address / 网络地址: {ip}")));
        // What the client said it is, cut short: it is the client's text, not ours.
        details.extend(user_agent.map(|agent| {
            let agent: String = agent.chars().filter(|c| !c.is_control()).take(80).collect();
            format!("Device, as it reported itself / 设备（自报）: {agent}")
        }));
    }
    let warning_en = "If this was not you, change your password now and contact support.";
    let warning_zh = "如果这不是您本人的操作，请立即修改密码并联系客服。";
    let text = format!(
        "{en}\n{zh}\n\n{}\n\n{warning_en}\n{warning_zh}\n",
        details.join("\n")
    );
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let html_details: String = details
        .iter()
        .map(|line| format!("<li>{}</li>", escape(line)))
        .collect();
    let html = format!(
        "<!doctype html><html><body style=\"font-family: sans-serif\">\
         <p>{en}</p><p>{zh}</p><ul>{html_details}</ul>\
         <p style=\"color: #666\">{warning_en}<br>{warning_zh}</p></body></html>"
    );
    Rendered {
        subject: subject.to_owned(),
        text,
        html,
    }
}

/// The text message carrying a one-time code for `purpose`, in `locale`.
pub fn render_sms(purpose: Purpose, locale: &str, code: &str) -> String {
    if locale.starts_with("zh") {
        let action = match purpose {
            Purpose::SignUp => "注册",
            Purpose::SignIn => "登录",
            Purpose::VerifyEmail => "验证邮箱",
            Purpose::ResetPassword => "重置密码",
            Purpose::ChangeEmail => "更换邮箱",
            Purpose::ChangePhone => "更换手机号",
            Purpose::DeleteAccount => "注销账号",
        };
        format!("您的{action}验证码是 {code}，10 分钟内有效，请勿告诉他人。")
    } else {
        let action = match purpose {
            Purpose::SignUp => "sign up",
            Purpose::SignIn => "sign in",
            Purpose::VerifyEmail => "verify your email",
            Purpose::ResetPassword => "reset your password",
            Purpose::ChangeEmail => "change your email",
            Purpose::ChangePhone => "change your phone",
            Purpose::DeleteAccount => "delete your account",
        };
        format!("Your code to {action} is {code}. It is valid for 10 minutes; do not share it.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_says_what_when_and_from_where_in_both_languages_with_the_agent_escaped() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:30:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let on = render_notice(
            Notice::TotpEnabled,
            at,
            Some("203.0.113.9"),
            Some("<b>curl"),
        );
        assert_eq!(on.subject, "Two-factor authentication is on");
        for part in [&on.text, &on.html] {
            assert!(part.contains("2026-12-01 09:30 UTC") && part.contains("203.0.113.9"));
            assert!(part.contains("两步验证"));
        }
        assert!(on.html.contains("&lt;b&gt;curl") && !on.html.contains("<b>curl"));
        let long = "x".repeat(500);
        let cut = render_notice(Notice::TotpRemoved, at, None, Some(&long));
        assert!(cut.text.contains(&"x".repeat(80)) && !cut.text.contains(&"x".repeat(81)));
        let reset = render_notice(Notice::SecondFactorsReset, at, Some("198.51.100.1"), None);
        assert!(reset.text.contains("administrator") && !reset.text.contains("198.51.100.1"));
        assert_eq!(Notice::of("TotpRemoved"), Some(Notice::TotpRemoved));
        assert_eq!(Notice::of("SessionStarted"), None);
    }

    #[test]
    fn a_code_mail_has_the_code_in_both_parts_in_the_language_asked() {
        let english = render_code(
            Purpose::ResetPassword,
            "en",
            "123456",
            Some("https://example.com/reset-password?token=t"),
        );
        assert!(
            english
                .text
                .contains("https://example.com/reset-password?token=t")
        );
        assert!(
            english
                .html
                .contains("href=\"https://example.com/reset-password?token=t\"")
        );
        assert_eq!(english.subject, "Your code to reset your password");
        assert!(english.text.contains("123456"));
        assert!(english.html.contains("123456"));

        let chinese = render_code(Purpose::SignIn, "zh-CN", "654321", None);
        assert_eq!(chinese.subject, "您的登录验证码");
        assert!(chinese.text.contains("654321"));
        assert!(chinese.text.contains("10 分钟"));
    }
}
