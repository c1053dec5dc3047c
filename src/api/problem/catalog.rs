//! The catalogue of stable codes: every problem `code` with its HTTP status, English and
//! Chinese title and, where there is more to say, detail; and every field `code` (in a
//! problem's `errors`) with its titles. Each code is spelled here once. The problem map
//! (`ApiError::from(ServiceError)`), the statuses the OpenAPI document lists with their codes,
//! and the translations are all read from these tables, so they cannot drift apart; that each
//! entry has both languages is checked by the compiler (every column is required) and by the
//! tests below.

use super::super::i18n::Language;
use crate::domain::values::Refusal;
use poem::http::StatusCode;

/// One value in English and in Simplified Chinese.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    /// English.
    pub en: &'static str,
    /// Simplified Chinese (zh-CN).
    pub zh: &'static str,
}

impl Text {
    /// The text in `language`.
    pub fn of(self, language: Language) -> &'static str {
        match language {
            Language::En => self.en,
            Language::ZhCn => self.zh,
        }
    }
}

macro_rules! optional_text {
    () => {
        None
    };
    ($en:literal, $zh:literal) => {
        Some(Text { en: $en, zh: $zh })
    };
}

/// Declares an enum of stable codes from rows `Variant = "code", "title", "标题"`: the enum,
/// its spellings (`as_str`), its titles (`title`) and the list of all (`ALL`).
macro_rules! code_enum {
    ($(#[doc = $doc:literal])* $name:ident {
        $($variant:ident = $code:literal, $en:literal, $zh:literal;)*
    }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(#[doc = $en] $variant,)*
        }

        impl $name {
            /// Every code, in the catalogue's order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The stable snake_case code.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            /// What the code means.
            pub fn title(self) -> Text {
                match self {
                    $(Self::$variant => Text { en: $en, zh: $zh },)*
                }
            }
        }
    };
}

/// Declares `ProblemCode` from rows `Variant = "code", STATUS, "title", "标题"` with an optional
/// `detail "detail", "说明"`.
macro_rules! problem_codes {
    ($($variant:ident = $code:literal, $status:ident, $en:literal, $zh:literal
        $(, detail $detail_en:literal, $detail_zh:literal)?;)*) => {
        code_enum! {
            /// A stable problem `code` (RFC 9457 problem details, extension member `code`).
            ProblemCode { $($variant = $code, $en, $zh;)* }
        }

        impl ProblemCode {
            /// The HTTP status a problem with this code answers with.
            pub fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)*
                }
            }

            /// What the caller can do about it, when the title does not say it all.
            pub fn detail(self) -> Option<Text> {
                match self {
                    $(Self::$variant => optional_text!($($detail_en, $detail_zh)?),)*
                }
            }
        }
    };
}

problem_codes! {
    InvalidBody = "invalid_body", BAD_REQUEST,
        "The request body is not valid JSON of the expected shape",
        "请求体不是预期格式的 JSON";
    InvalidRequest = "invalid_request", BAD_REQUEST,
        "The request is malformed", "请求格式错误";
    CodeInvalid = "code_invalid", BAD_REQUEST,
        "The code is not valid", "验证码错误或已失效",
        detail "The code is wrong, already used, or dead after too many tries.",
        "验证码错误、已被使用，或因尝试次数过多而失效。";
    CodeExpired = "code_expired", BAD_REQUEST,
        "The code has expired", "验证码已过期",
        detail "Ask for a new code (POST /v1/codes).", "请重新获取验证码（POST /v1/codes）。";
    PositionAhead = "position_ahead", BAD_REQUEST,
        "min_position is beyond the end of the log", "min_position 超出了事件日志的末尾",
        detail "Give an Accounts-Position that a command answered.",
        "请使用命令应答中的 Accounts-Position。";
    Unauthenticated = "unauthenticated", UNAUTHORIZED,
        "Sign in first", "请先登录";
    InvalidCredentials = "invalid_credentials", UNAUTHORIZED,
        "Wrong account or password", "账号或密码错误";
    MfaInvalid = "mfa_invalid", UNAUTHORIZED,
        "The second factor is wrong or was used already", "二次验证错误或已被使用",
        detail "Each TOTP code and each recovery code works once; a passkey's assertion must be \
                one of the account's passkeys, made for this challenge. After 5 wrong answers \
                the challenge is dead: sign in again.",
        "每个动态验证码和恢复码只能使用一次；通行密钥凭据必须属于本账号并针对本次挑战生成。\
         答错 5 次后本次挑战失效，请重新登录。";
    PasskeyChallengeExpired = "passkey_challenge_expired", UNAUTHORIZED,
        "The passkey ceremony is no longer valid", "通行密钥验证已失效",
        detail "It expired after 5 minutes, was finished already, or belongs to another session: \
                start again.",
        "验证已超过 5 分钟、已完成或属于其他会话：请重新开始。";
    PasskeyInvalid = "passkey_invalid", UNAUTHORIZED,
        "The passkey was not accepted", "通行密钥验证失败",
        detail "The assertion names no passkey registered here, or its signature, origin or user \
                verification did not check out. Start again, or sign in another way.",
        "该凭据未在此注册，或签名、来源、用户验证未通过。请重新开始，或使用其他方式登录。";
    MfaChallengeExpired = "mfa_challenge_expired", UNAUTHORIZED,
        "The sign-in challenge is no longer valid", "登录挑战已失效",
        detail "It expired after 5 minutes, was answered already, or had 5 wrong answers: sign \
                in again (POST /v1/sessions).",
        "挑战已超过 5 分钟、已被使用或已答错 5 次：请重新登录（POST /v1/sessions）。";
    WrongPassword = "wrong_password", FORBIDDEN,
        "The password is wrong", "密码错误";
    AccountBlocked = "account_blocked", FORBIDDEN,
        "This account is blocked", "该账号已被封禁";
    Forbidden = "forbidden", FORBIDDEN,
        "Your role does not allow this", "权限不足",
        detail "Only an administrator may do this, and only an owner may act on an administrator \
                or owner.",
        "只有管理员可以执行此操作，且只有所有者可以操作管理员或所有者。";
    MfaStepUpRequired = "mfa_step_up_required", FORBIDDEN,
        "This action needs your second factor", "此操作需要二次验证",
        detail "Send `mfa_code` (a TOTP code or a recovery code) with the request, or prove a \
                passkey in this session first (POST /v1/me/mfa/step-up/passkey/start and \
                /finish), or sign in with your second factor: a session that proved it in the \
                last 10 minutes may act without.",
        "请在请求中附上 `mfa_code`（动态验证码或恢复码），或先在本会话中验证通行密钥\
         （POST /v1/me/mfa/step-up/passkey/start 与 /finish），或使用二次验证重新登录：\
         10 分钟内完成过二次验证的会话无需再次提供。";
    RecentSignInRequired = "recent_sign_in_required", FORBIDDEN,
        "Sign in again first", "请先重新登录",
        detail "Adding a second factor to an account without a password needs a session \
                started in the last 10 minutes: sign in again (by code) and retry.",
        "为没有密码的账号添加二次验证，需要 10 分钟内登录的会话：请重新登录（验证码登录）后重试。";
    MfaEnrolmentRequired = "mfa_enrolment_required", FORBIDDEN,
        "Administrators need a second factor here", "管理员须先开启二次验证",
        detail "This service requires administrators and owners to have a second factor: enrol \
                TOTP first (POST /v1/me/mfa/totp).",
        "本服务要求管理员和所有者开启二次验证：请先开启动态验证码（POST /v1/me/mfa/totp）。";
    FollowsHidden = "follows_hidden", FORBIDDEN,
        "This user hides their follows", "该用户未公开关注列表";
    NotFound = "not_found", NOT_FOUND,
        "Not found", "未找到";
    AccountNotFound = "account_not_found", NOT_FOUND,
        "No such account", "账号不存在";
    SessionNotFound = "session_not_found", NOT_FOUND,
        "No such session", "会话不存在";
    PasskeyNotFound = "passkey_not_found", NOT_FOUND,
        "No such passkey", "通行密钥不存在";
    UserNotFound = "user_not_found", NOT_FOUND,
        "No such user", "用户不存在";
    AddressNotFound = "address_not_found", NOT_FOUND,
        "No such address", "地址不存在";
    GroupNotFound = "group_not_found", NOT_FOUND,
        "No such group", "分组不存在";
    NotFollowing = "not_following", NOT_FOUND,
        "You do not follow this user", "未关注该用户";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED,
        "Method not allowed", "不支持该请求方法",
        detail "This path does not take this method: see the Allow header.",
        "该路径不支持此请求方法，请查看 Allow 响应头。";
    AccountNotDeleted = "account_not_deleted", CONFLICT,
        "The account is not deleted", "该账号未被删除",
        detail "Only a deleted account can be restored.", "只有已删除的账号可以恢复。";
    AccountErased = "account_erased", GONE,
        "The account is erased", "该账号已被彻底清除",
        detail "The grace period after the deletion ended and the account's personal data was \
                erased: it cannot be restored.",
        "删除后的宽限期已过，账号的个人数据已被清除，无法恢复。";
    EmailTaken = "email_taken", CONFLICT,
        "This email address is already registered", "该邮箱已被注册";
    UsernameTaken = "username_taken", CONFLICT,
        "This username is already taken", "该用户名已被占用";
    PhoneTaken = "phone_taken", CONFLICT,
        "This phone number is already registered", "该手机号已被注册";
    IdempotencyKeyInUse = "idempotency_key_in_use", CONFLICT,
        "A request with this Idempotency-Key is still running",
        "使用该幂等键的请求仍在处理中",
        detail "Retry after the seconds in Retry-After to get its answer.",
        "请在 Retry-After 指定的秒数后重试以获取其应答。";
    EmailAlreadyVerified = "email_already_verified", CONFLICT,
        "The email address is already verified", "邮箱已验证";
    EmailNotVerified = "email_not_verified", CONFLICT,
        "Verify your email address first", "请先验证邮箱",
        detail "Verify the account's email address first (POST /v1/email-verification).",
        "请先验证账号的邮箱（POST /v1/email-verification）。";
    NoEmail = "no_email", CONFLICT,
        "The account has no email address", "账号未绑定邮箱",
        detail "Add one with PUT /v1/me/email.", "请先通过 PUT /v1/me/email 绑定邮箱。";
    AddressLimitReached = "address_limit_reached", CONFLICT,
        "The address book is full", "收货地址数量已达上限",
        detail "An account keeps at most 20 addresses: remove one first.",
        "每个账号最多保存 20 个地址，请先删除一个。";
    MfaNotEnabled = "mfa_not_enabled", CONFLICT,
        "The account has no second factor", "账号未开启二次验证",
        detail "Enrol TOTP first (POST /v1/me/mfa/totp).", "请先开启动态验证码（POST /v1/me/mfa/totp）。";
    TotpAlreadyEnabled = "totp_already_enabled", CONFLICT,
        "TOTP is already enabled", "动态验证码已开启",
        detail "Remove it first (DELETE /v1/me/mfa/totp).", "请先关闭（DELETE /v1/me/mfa/totp）。";
    TotpNotPending = "totp_not_pending", CONFLICT,
        "No TOTP enrolment is waiting for confirmation", "没有待确认的动态验证码",
        detail "Start one with POST /v1/me/mfa/totp.", "请先通过 POST /v1/me/mfa/totp 开始绑定。";
    PasskeyLimitReached = "passkey_limit_reached", CONFLICT,
        "The account has as many passkeys as it may", "通行密钥数量已达上限",
        detail "An account keeps at most 16 passkeys: remove one first \
                (DELETE /v1/me/passkeys/{id}).",
        "每个账号最多保存 16 个通行密钥，请先删除一个（DELETE /v1/me/passkeys/{id}）。";
    PasskeyAlreadyRegistered = "passkey_already_registered", CONFLICT,
        "This passkey is registered already", "该通行密钥已注册";
    ShownOnce = "shown_once", CONFLICT,
        "This answer was shown once", "该内容只显示一次",
        detail "The request succeeded before under this Idempotency-Key; what it showed (a TOTP \
                secret, recovery codes) is not shown again. See GET /v1/me/mfa, and start again \
                or get new recovery codes.",
        "该请求已使用此幂等键成功执行；其中显示的内容（动态验证码密钥、恢复码）不会再次显示。\
         请查看 GET /v1/me/mfa，并重新开始或重新生成恢复码。";
    GroupExists = "group_exists", CONFLICT,
        "A group with this name exists", "分组已存在";
    GroupLimitReached = "group_limit_reached", CONFLICT,
        "Too many groups", "分组数量已达上限",
        detail "An account has at most 20 groups of its own.", "每个账号最多创建 20 个分组。";
    GroupUndeletable = "group_undeletable", CONFLICT,
        "This group cannot be deleted", "默认分组不能删除",
        detail "The built-in groups `default` and `special` stay.",
        "内置分组 `default` 与 `special` 不能删除。";
    LastOwner = "last_owner", CONFLICT,
        "The last owner cannot be demoted or deleted", "不能降级或删除最后一位所有者",
        detail "Promote another owner first.", "请先将另一位用户设为所有者。";
    CannotBlockSelf = "cannot_block_self", CONFLICT,
        "You cannot block your own account", "不能封禁自己的账号",
        detail "Another administrator can block this account.", "可由另一位管理员封禁该账号。";
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE,
        "The request body is too large", "请求体过大";
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        "The body's content type is not taken", "不支持该请求体的内容类型",
        detail "Send the body as JSON (Content-Type: application/json).",
        "请以 JSON 发送请求体（Content-Type: application/json）。";
    ValidationFailed = "validation_failed", UNPROCESSABLE_ENTITY,
        "Some fields are invalid", "部分字段无效";
    IdempotencyKeyReused = "idempotency_key_reused", UNPROCESSABLE_ENTITY,
        "This Idempotency-Key was used for another request", "该幂等键已用于其他请求",
        detail "An Idempotency-Key names one request: use a new key for a different request.",
        "一个幂等键只对应一个请求，不同的请求请使用新的幂等键。";
    CannotFollowSelf = "cannot_follow_self", UNPROCESSABLE_ENTITY,
        "You cannot follow yourself", "不能关注自己";
    CaptchaRequired = "captcha_required", PRECONDITION_REQUIRED,
        "Solve the captcha to continue", "请先完成人机验证",
        detail "Too many failed sign-ins for this account or from this address, or too many \
                sign-ups from this address within the hour: solve GET /v1/captcha and send the \
                solution as `captcha`.",
        "该账号或当前网络地址登录失败次数过多，或当前网络地址一小时内注册过多：请完成 \
         GET /v1/captcha 的挑战，并将结果作为 `captcha` 字段提交。";
    CaptchaInvalid = "captcha_invalid", PRECONDITION_REQUIRED,
        "The captcha solution is not valid", "人机验证无效或已过期",
        detail "The solution is wrong, expired or already used: solve a new GET /v1/captcha.",
        "验证结果错误、已过期或已被使用：请重新完成 GET /v1/captcha 的挑战。";
    TooManyRequests = "too_many_requests", TOO_MANY_REQUESTS,
        "Too many requests, retry later", "请求过于频繁，请稍后再试",
        detail "Retry after the seconds in Retry-After.", "请在 Retry-After 指定的秒数后重试。";
    InternalError = "internal_error", INTERNAL_SERVER_ERROR,
        "Something went wrong on our side", "服务器内部错误";
    ServiceUnavailable = "service_unavailable", SERVICE_UNAVAILABLE,
        "Temporarily unavailable, retry shortly", "服务暂时不可用，请稍后重试",
        detail "Retry after the seconds in Retry-After.", "请在 Retry-After 指定的秒数后重试。";
    ReadModelBehind = "read_model_behind", SERVICE_UNAVAILABLE,
        "Not up to date yet", "数据尚未同步，请稍后重试",
        detail "The read model has not reached min_position in time: retry after the seconds \
                in Retry-After.",
        "读模型尚未同步到 min_position：请在 Retry-After 指定的秒数后重试。";
    RequestFailed = "request_failed", BAD_REQUEST,
        "The request failed", "请求失败";
}

code_enum! {
    /// A stable field `code` in a problem's `errors` given by the HTTP layer (the domain's
    /// are `Refusal`).
    FieldCode {
        UnknownField = "unknown_field", "No such field", "字段不存在";
        DuplicateField = "duplicate_field",
            "This field appears more than once", "该字段在同一对象中重复出现";
        WrongType = "wrong_type", "This field has the wrong type", "字段类型或取值不正确";
        UnknownEventType = "unknown_event_type", "No such event type", "事件类型不存在";
        InvalidPathParameter = "invalid_path_parameter",
            "This path parameter is not valid", "路径参数无效";
        IdentifierRequired = "identifier_required",
            "Give the account's identifier: an email address, a username or a phone number, of \
             those the operation takes",
            "请提供账号标识：邮箱、用户名或手机号（以本操作接受的为准）";
        OneIdentifierOnly = "one_identifier_only",
            "Give only one identifier (email address, username or phone number)",
            "只能提供一个账号标识（邮箱、用户名或手机号）";
        PasswordOrCode = "password_or_code",
            "Give either a password or a code", "请提供密码或验证码中的一个";
        TokenOrCode = "token_or_code",
            "Give either the link's token or a code", "请提供链接中的令牌或验证码中的一个";
        CodeNeedsEmail = "code_needs_email",
            "A code signs in with an email address or a phone number",
            "验证码登录须使用邮箱或手机号";
        InvalidHeader = "invalid_header", "This header is not valid", "请求头无效";
        PasswordUnchanged = "password_unchanged",
            "The new password must differ from the current one", "新密码不能与旧密码相同";
        TotpOrRecoveryCode = "totp_or_recovery_code",
            "Give exactly one of a TOTP code, a recovery code and a passkey assertion",
            "请提供动态验证码、恢复码或通行密钥凭据中的一个";
    }
}

/// What a domain refusal means, in both languages. The match has no wildcard, so a new
/// `Refusal` does not compile until it has both.
pub fn refusal_title(refusal: Refusal) -> Text {
    let (en, zh) = match refusal {
        Refusal::Required => ("This field is required", "此字段为必填项"),
        Refusal::InvalidEmail => ("This is not a valid email address", "邮箱格式错误"),
        Refusal::InvalidUsername => (
            "A username has 3 to 30 letters, digits or underscores and starts with a letter",
            "用户名为 3 到 30 位字母、数字或下划线，且以字母开头",
        ),
        Refusal::InvalidPhone => (
            "This is not a valid phone number: give it in international form (+8613812345678) \
             or as an 11-digit mainland China mobile number",
            "手机号格式错误：请使用国际格式（如 +8613812345678）或 11 位中国大陆手机号",
        ),
        Refusal::PasswordTooShort => ("A password has at least 8 characters", "密码至少 8 位"),
        Refusal::PasswordTooLong => ("A password has at most 128 characters", "密码最多 128 位"),
        Refusal::PasswordTooWeak => (
            "This password is too easy to guess: use a longer phrase or mix unrelated words",
            "密码太容易被猜到：请使用更长的短语，或组合几个不相关的词",
        ),
        Refusal::InvalidDisplayName => (
            "A display name has 1 to 32 characters and no control or invisible characters",
            "昵称为 1 到 32 个字符，且不含控制字符",
        ),
        Refusal::InvalidBio => (
            "A bio has at most 500 characters and no control or invisible characters but line breaks",
            "简介最多 500 个字符，除换行外不含控制字符",
        ),
        Refusal::InvalidUrl => (
            "Give an http or https URL of at most 2048 characters",
            "请提供 http 或 https 链接，最多 2048 个字符",
        ),
        Refusal::InvalidPlace => (
            "A place name has 1 to 64 characters",
            "地名为 1 到 64 个字符",
        ),
        Refusal::InvalidBirthday => (
            "A birthday lies between 1900-01-01 and today",
            "生日须在 1900-01-01 与今天之间",
        ),
        Refusal::InvalidReceiver => (
            "A receiver's name has 1 to 20 characters",
            "收货人姓名为 1 到 20 个字符",
        ),
        Refusal::InvalidAddress => (
            "An address line has 1 to 200 characters",
            "详细地址为 1 到 200 个字符",
        ),
        Refusal::InvalidTag => ("A tag has 1 to 10 characters", "标签为 1 到 10 个字符"),
        Refusal::InvalidGroupName => (
            "A group name has 1 to 20 characters",
            "分组名为 1 到 20 个字符",
        ),
        Refusal::MfaCodeInvalid => (
            "This code is wrong or was used already: each TOTP code and recovery code works once",
            "验证码错误或已被使用：每个动态验证码和恢复码只能使用一次",
        ),
        Refusal::InvalidPasskeyName => (
            "A passkey's name is 1 to 64 characters, without control characters",
            "通行密钥名称为 1 到 64 个字符，且不能包含控制字符",
        ),
        Refusal::PasskeyCredentialInvalid => (
            "The WebAuthn credential was not accepted: start the registration again",
            "WebAuthn 凭据未通过验证：请重新开始注册",
        ),
        Refusal::PasskeyCredentialMalformed => (
            "This is no WebAuthn credential: send the PublicKeyCredential the browser returned, \
             as JSON with binary fields in base64url",
            "这不是 WebAuthn 凭据：请发送浏览器返回的 PublicKeyCredential（JSON，二进制字段用 base64url）",
        ),
        Refusal::MfaCodeMalformed => (
            "This is no code: a TOTP code is 6 digits, a recovery code 10 letters and digits \
             (XXXXX-XXXXX); spaces and hyphens do not matter",
            "格式错误：动态验证码为 6 位数字，恢复码为 10 位字母和数字（XXXXX-XXXXX），空格和连字符可忽略",
        ),
        Refusal::InvalidPostcode => (
            "A postcode has 6 digits in mainland China, 3 to 10 elsewhere",
            "邮政编码在中国大陆为 6 位数字，其他地区为 3 到 10 位数字",
        ),
    };
    Text { en, zh }
}

/// The meaning of a field code from any layer (`FieldCode` or `Refusal`).
pub fn field_title(code: &str) -> Option<Text> {
    FieldCode::ALL
        .iter()
        .find(|field| field.as_str() == code)
        .map(|field| field.title())
        .or_else(|| {
            Refusal::ALL
                .iter()
                .find(|refusal| refusal.as_str() == code)
                .map(|refusal| refusal_title(*refusal))
        })
}

/// True for the field codes whose English message names the value refused or the values
/// allowed (`wrong_type`, `unknown_field`, ...): a Chinese answer keeps that message after the
/// code's title. A domain refusal's message only restates its title.
pub fn names_values(code: &str) -> bool {
    use FieldCode as F;
    [
        F::UnknownField,
        F::DuplicateField,
        F::WrongType,
        F::UnknownEventType,
        F::InvalidPathParameter,
        F::InvalidHeader,
    ]
    .iter()
    .any(|field| field.as_str() == code)
}

/// Every field code with its meaning, the domain's first.
pub fn field_codes() -> impl Iterator<Item = (&'static str, Text)> {
    Refusal::ALL
        .iter()
        .map(|refusal| (refusal.as_str(), refusal_title(*refusal)))
        .chain(
            FieldCode::ALL
                .iter()
                .map(|field| (field.as_str(), field.title())),
        )
}

/// Lists the catalogue in the document: every problem code with its status and title on
/// `Problem.code`, every field code with its title on `ProblemField.code`. The codes stay plain
/// strings in the schema (not an enum) so that a client built today keeps reading answers with
/// a code added later.
pub fn declare_codes(spec: &mut serde_json::Value) {
    let problems: Vec<String> = ProblemCode::ALL
        .iter()
        .map(|code| {
            format!(
                "`{}` ({}): {}",
                code.as_str(),
                code.status().as_u16(),
                code.title().en
            )
        })
        .collect();
    let fields: Vec<String> = field_codes()
        .map(|(code, title)| format!("`{code}`: {}", title.en))
        .collect();
    let schemas = &mut spec["components"]["schemas"];
    if let Some(code) = schemas["Problem"]["properties"]["code"].as_object_mut() {
        code.insert(
            "description".to_owned(),
            format!(
                "Stable machine-readable code; the problem type is `/problems/<code>`. One of: {}.",
                problems.join("; ")
            )
            .into(),
        );
    }
    if let Some(code) = schemas["ProblemField"]["properties"]["code"].as_object_mut() {
        code.insert(
            "description".to_owned(),
            format!(
                "Stable machine-readable code of what is wrong with the field. One of: {}.",
                fields.join("; ")
            )
            .into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn is_chinese(text: &str) -> bool {
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    fn assert_both_languages(code: &str, text: Text) {
        assert!(
            !text.en.trim().is_empty() && !is_chinese(text.en),
            "{code}: English text {:?}",
            text.en
        );
        assert!(is_chinese(text.zh), "{code}: Chinese text {:?}", text.zh);
    }

    #[test]
    fn every_code_has_an_english_and_a_chinese_title_and_detail() {
        for code in ProblemCode::ALL {
            assert_both_languages(code.as_str(), code.title());
            if let Some(detail) = code.detail() {
                assert_both_languages(code.as_str(), detail);
            }
        }
        for (code, title) in field_codes() {
            assert_both_languages(code, title);
        }
    }

    #[test]
    fn every_code_is_snake_case_and_spelled_once_across_problems_and_fields() {
        let mut seen = HashSet::new();
        let codes = ProblemCode::ALL
            .iter()
            .map(|code| code.as_str())
            .chain(field_codes().map(|(code, _)| code));
        for code in codes {
            assert!(
                !code.is_empty()
                    && code.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !code.starts_with('_')
                    && !code.ends_with('_'),
                "{code} is not snake_case"
            );
            assert!(seen.insert(code), "{code} appears twice");
        }
    }

    #[test]
    fn problems_are_client_or_server_errors_and_field_codes_are_found_by_name() {
        for code in ProblemCode::ALL {
            let status = code.status();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{}",
                code.as_str()
            );
        }
        for (code, title) in field_codes() {
            assert_eq!(field_title(code), Some(title));
        }
        assert_eq!(field_title("no_such_code"), None);
        assert_eq!(
            field_title("phone_taken"),
            None,
            "a problem code is not a field code"
        );
    }
}
