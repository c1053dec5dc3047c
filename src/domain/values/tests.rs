use super::*;
use chrono::NaiveDate;

fn canonical_email(raw: &str) -> Result<String, &'static str> {
    Email::parse(raw)
        .map(|e| e.as_str().to_owned())
        .map_err(|e| e.code.as_str())
}

#[test]
fn emails_are_normalized_and_need_a_dotted_domain() {
    assert_eq!(
        canonical_email("  Alice@Example.COM "),
        Ok("alice@example.com".to_owned())
    );
    for bad in [
        "",
        "alice",
        "alice@",
        "@example.com",
        "alice@localhost",
        "a b@example.com",
        "alice@example.com.",
        "alice@[192.0.2.1]",
        "alice@127.0.0.1",
        "alice@1.2.3.4.5",
        "alice@0x7f.0.0.1",
        "alice@example.123",
        "alice@127.0.0.0x1",
        "alice@0x7f.0x1",
        "alice@169.254.169.0xfe",
        "alice@127.0.0.0X1",
        "alice..b@example.com",
        ".alice@example.com",
        "alice@exa mple.com",
        "Alice <alice@example.com>",
    ] {
        assert_eq!(canonical_email(bad), Err("invalid_email"), "{bad}");
    }
}

#[test]
fn email_domains_have_one_spelling_under_uts46() {
    let canonical = Ok("u@xn--bcher-kva.example".to_owned());
    assert_eq!(canonical_email("u@bücher.example"), canonical);
    assert_eq!(canonical_email("u@BÜCHER.example"), canonical);
    assert_eq!(canonical_email("u@xn--bcher-kva.example"), canonical);
    assert_eq!(canonical_email("u@XN--BCHER-KVA.EXAMPLE"), canonical);
    // Full-width letters and the ideographic full stop map to their plain forms.
    assert_eq!(
        canonical_email("v@ｍａｉｌ.example.org"),
        Ok("v@mail.example.org".to_owned())
    );
    assert_eq!(
        canonical_email("v@mail。example。org"),
        Ok("v@mail.example.org".to_owned())
    );
    assert_eq!(
        canonical_email("w@例子.中国"),
        Ok("w@xn--fsqu00a.xn--fiqs8s".to_owned())
    );
    // A label that is not a valid IDN, or a domain with characters DNS forbids.
    for bad in ["u@xn--a.example", "u@exa_mple.com", "u@-example.com"] {
        assert_eq!(canonical_email(bad), Err("invalid_email"), "{bad}");
    }
}

#[test]
fn email_local_parts_are_plain_ascii_dot_atoms_the_mailer_accepts() {
    for bad in [
        "\"x@attacker.example.net\"@example.org",
        "\"x\"@example.org",
        "x(comment)@example.org",
        "用户@example.org",
        "x\\y@example.org",
        "x%evil.example@relay.example",
        "host!x@example.org",
        &format!("{}@example.org", "a".repeat(65)),
    ] {
        assert_eq!(canonical_email(bad), Err("invalid_email"), "{bad}");
    }
    assert_eq!(
        canonical_email("First.Last+tag@example.org"),
        Ok("first.last+tag@example.org".to_owned())
    );
    let accepted = canonical_email("o'brien#$&*=?^_`{|}~-/@example.org").expect("valid");
    let mailbox: lettre::message::Mailbox = accepted.parse().expect("lettre reads it");
    assert_eq!(mailbox.email.to_string(), accepted);
}

#[test]
fn a_canonical_email_reads_back_as_itself() {
    for raw in [
        "u@Bücher.example",
        "v@ｍａｉｌ.example.org",
        "w@例子.中国",
        "First.Last+tag@Example.COM",
        "x@ÉCOLE.fr",
        "y@straße.de",
        "z@ΑΒΓ.gr",
    ] {
        let canonical = canonical_email(raw).unwrap_or_else(|code| panic!("{raw}: {code}"));
        assert_eq!(canonical_email(&canonical), Ok(canonical.clone()), "{raw}");
    }
}

#[test]
fn stored_emails_in_an_older_spelling_read_canonical() {
    let read = |stored: &str| -> Email {
        serde_json::from_value(serde_json::json!(stored)).expect("reads")
    };
    assert_eq!(read("u@bücher.example").as_str(), "u@xn--bcher-kva.example");
    // What no longer parses is kept as written, so old events still load.
    assert_eq!(read("\"q\"@example.org").as_str(), "\"q\"@example.org");
}

#[test]
fn usernames_start_with_a_letter_and_compare_without_case() {
    let name = Username::parse("Alice_01").expect("valid");
    assert_eq!(name.as_str(), "Alice_01");
    assert_eq!(name.normalized(), "alice_01");
    for bad in [
        "al",
        "1alice",
        "alice!",
        "ali ce",
        &"a".repeat(31),
        "张三丰",
    ] {
        assert!(Username::parse(bad).is_err(), "{bad}");
    }
}

fn canonical_phone(raw: &str) -> Result<String, &'static str> {
    Phone::parse(raw)
        .map(|p| p.as_str().to_owned())
        .map_err(|e| e.code.as_str())
}

#[test]
fn phones_accept_e164_and_bare_mainland_mobiles() {
    assert_eq!(canonical_phone("13812345678"), Ok("+8613812345678".into()));
    assert_eq!(
        canonical_phone("+1 (415) 555-0100"),
        Ok("+14155550100".into())
    );
    for bad in [
        "12345",
        "+86123",
        "+8612812345678",
        "phone",
        "+0123456789",
        "",
        "+61 412 000 001 ext. 7",
        "tel:+4917908215540",
        "tel:+8613812345678",
        "phone: 13812345678",
    ] {
        assert_eq!(canonical_phone(bad), Err("invalid_phone"), "{bad}");
    }
}

#[test]
fn a_national_trunk_prefix_after_the_country_code_is_dropped() {
    for (spellings, canonical) in [
        (
            &["+61412000001", "+61 0412 000 001", "+61-0412-000-001"][..],
            "+61412000001",
        ),
        (
            &["+4915123456789", "+49 0151 23456789", "+49 (0)151 23456789"][..],
            "+4915123456789",
        ),
        (
            &["+447911123456", "+44 07911 123456", "+44 (0) 7911 123456"][..],
            "+447911123456",
        ),
        (
            &["+86 138 1234 5678", "+86-13812345678"][..],
            "+8613812345678",
        ),
        // A trunk 0 with a carrier selection code (15) in Brazil.
        (
            &[
                "+5511912341066",
                "+55 0 15 11 91234 1066",
                "+55 (011) 91234-1066",
            ][..],
            "+5511912341066",
        ),
        (&["+7 8 912 345 6789", "+79123456789"][..], "+79123456789"),
        // A full-width plus and the international prefix 00 are a plus.
        (
            &["＋4917908215540", "004917908215540", "00 49 179 0821 5540"][..],
            "+4917908215540",
        ),
        (&["+81 090 1234 5678", "+819012345678"][..], "+819012345678"),
        // Italy keeps its leading 0: a landline and a mobile stay two numbers.
        (&["+39 06 1234 5678"][..], "+390612345678"),
        (&["+39 02 1234 5678"][..], "+390212345678"),
        (&["+39 333 1231066"][..], "+393331231066"),
        // Numbers whose digits look like mainland China's prefixes keep them.
        (
            &["+55 11 98765 4321", "+55 011 98765 4321"][..],
            "+5511987654321",
        ),
        (&["+49 179 1234567"][..], "+491791234567"),
        (&["+4917908215540"][..], "+4917908215540"),
        (&["+44 121 496 0123"][..], "+441214960123"),
        (&["+43 1 5123456"][..], "+4315123456"),
    ] {
        for spelling in spellings {
            assert_eq!(
                canonical_phone(spelling),
                Ok(canonical.to_owned()),
                "{spelling}"
            );
        }
    }
}

#[test]
fn a_canonical_phone_reads_back_as_itself() {
    for raw in [
        "13812345678",
        "+5511912341066",
        "+61412000001",
        "+4915123456789",
        "+447911123456",
        "+14155550100",
        "+390612345678",
        "+79123456789",
        "+819012345678",
        "+525512345678",
        "+5491123456789",
        "+33612345678",
        "+919876543210",
        "+85291234567",
        "+886912345678",
    ] {
        let canonical = canonical_phone(raw).unwrap_or_else(|code| panic!("{raw}: {code}"));
        assert_eq!(canonical_phone(&canonical), Ok(canonical.clone()), "{raw}");
    }
}

#[test]
fn stored_phones_in_an_older_spelling_read_canonical() {
    let stored: Phone = serde_json::from_value(serde_json::json!("+610412000001")).expect("reads");
    assert_eq!(stored.as_str(), "+61412000001");
}

#[test]
fn passwords_must_be_long_and_hard_to_guess() {
    let code = |raw: &str| {
        Password::parse(raw, &[])
            .map(|_| ())
            .map_err(|e| e.code.as_str())
    };
    assert_eq!(code("short"), Err("password_too_short"));
    assert_eq!(code(&"x".repeat(129)), Err("password_too_long"));
    assert_eq!(code("password123"), Err("password_too_weak"));
    assert_eq!(code("correct horse battery staple"), Ok(()));
    assert_eq!(
        Password::parse("alice.wonder@example.com", &["alice.wonder@example.com"])
            .map_err(|e| e.code.as_str())
            .map(|_| ()),
        Err("password_too_weak")
    );
}

#[test]
fn passwords_do_not_show_in_debug_output() {
    let password = Password::parse("correct horse battery staple", &[]).expect("valid");
    assert!(!format!("{password:?}").contains("horse"));
}

#[test]
fn profile_texts_have_bounds() {
    assert!(DisplayName::parse("  小明  ").is_ok_and(|n| n.as_str() == "小明"));
    assert!(DisplayName::parse("   ").is_err());
    assert!(DisplayName::parse(&"名".repeat(33)).is_err());
    assert!(Bio::parse("line one\nline two").is_ok());
    assert!(Bio::parse(&"x".repeat(501)).is_err());
    assert!(ImageUrl::parse("https://cdn.example.com/a.png").is_ok());
    assert!(ImageUrl::parse("javascript:alert(1)").is_err());
    assert!(PlaceName::parse("广东").is_ok());
    assert!(PlaceName::parse("").is_err());
}

#[test]
fn texts_people_read_hold_no_hidden_or_reordering_characters() {
    // "Trojan Source" reordering, zero-width spaces, a byte-order mark, a line separator.
    for hidden in [
        "ad\u{202E}nimda",
        "a\u{200B}b",
        "\u{FEFF}x",
        "x\u{2028}y",
        "\u{2066}x",
    ] {
        assert!(DisplayName::parse(hidden).is_err(), "{hidden:?}");
        assert!(PlaceName::parse(hidden).is_err(), "{hidden:?}");
        assert!(Bio::parse(hidden).is_err(), "{hidden:?}");
    }
    assert!(crate::domain::follow_graph::group_name("a\u{202E}b").is_err());
    assert!(crate::domain::follow_graph::group_name("\u{3164}").is_err());
    // Emoji sequences and scripts that need the joiners keep them.
    assert!(DisplayName::parse("👩\u{200D}💻 小明").is_ok());
    assert!(DisplayName::parse("می\u{200C}خواهم").is_ok());
    assert!(DisplayName::parse("小明 \u{2764}\u{FE0F}").is_ok());
    assert!(DisplayName::parse("José").is_ok() && DisplayName::parse("e\u{0301}").is_ok());
    assert!(Bio::parse("").is_ok(), "an empty bio clears it");
    assert!(Bio::parse("first line\n\nthird line").is_ok());
}

#[test]
fn birthdays_lie_between_1900_and_today() {
    let today = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
    assert!(Birthday::parse(date(1990, 5, 17), today).is_ok());
    assert!(Birthday::parse(date(1899, 12, 31), today).is_err());
    assert!(Birthday::parse(date(2026, 11, 23), today).is_err());
}
