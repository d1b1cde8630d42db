//! What personal data looks like inside free text, defined once: the
//! analyst views mask it in SQL (`sink::clickhouse::mask_sql`) and the
//! notifier and the progress API in summaries (`mask`). Written without `?`
//! (as `{0,1}`): in SQL the client would take it for a bind placeholder.

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// An e-mail address.
pub const EMAIL: &str = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+";
pub const EMAIL_MASK: &str = "***@***";
/// A Chinese mobile (+86 1xx xxxx xxxx) or landline (0xx-xxxxxxxx) number.
pub const PHONE: &str = r"(\+{0,1}86[- ]{0,1}){0,1}1[3-9][0-9]{9}|0[0-9]{2,3}-[0-9]{7,8}";
pub const PHONE_MASK: &str = "***";

/// The `customer` object of a JSON record (also a cut or broken one).
pub const CUSTOMER: &str = r#""customer"\s*:\s*\{[^{}]*\}"#;
pub const CUSTOMER_MASK: &str = r#""customer":"***""#;
/// A `name`, `phone` or `email` field of a JSON record; its mask keeps the
/// field's name (group 1).
pub const CONTACT_FIELD: &str = r#""(name|phone|email)"\s*:\s*"([^"\\]|\\.)*""#;
pub const CONTACT_FIELD_MASK: &str = r#""$1":"***""#;

/// A whole input record masked as the analysts' views mask it
/// (`sink::clickhouse::mask_sql`): the customer object and contact fields,
/// then what [`mask`] masks.
pub fn mask_record(text: &str) -> String {
    static CUSTOMERS: LazyLock<Regex> = LazyLock::new(|| Regex::new(CUSTOMER).expect("valid"));
    static FIELDS: LazyLock<Regex> = LazyLock::new(|| Regex::new(CONTACT_FIELD).expect("valid"));
    let text = CUSTOMERS.replace_all(text, CUSTOMER_MASK);
    let text = FIELDS.replace_all(&text, CONTACT_FIELD_MASK);
    mask(&text).into_owned()
}

/// `text` with every e-mail address and phone number masked.
pub fn mask(text: &str) -> Cow<'_, str> {
    static EMAILS: LazyLock<Regex> = LazyLock::new(|| Regex::new(EMAIL).expect("valid"));
    static PHONES: LazyLock<Regex> = LazyLock::new(|| Regex::new(PHONE).expect("valid"));
    match EMAILS.replace_all(text, EMAIL_MASK) {
        Cow::Borrowed(t) => PHONES.replace_all(t, PHONE_MASK),
        Cow::Owned(t) => Cow::Owned(PHONES.replace_all(&t, PHONE_MASK).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_loses_its_customer_contacts_and_numbers() {
        let record = r#"{"customer": {"id": "K1", "name": "王芳"}, "email": "a@b.cn", "description": "call 13812345678", "x": {"name": "李\"伟"}}"#;
        assert_eq!(
            mask_record(record),
            r#"{"customer":"***", "email":"***", "description": "call ***", "x": {"name":"***"}}"#
        );
    }
}
