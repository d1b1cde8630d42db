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

/// `text` with every e-mail address and phone number masked.
pub fn mask(text: &str) -> Cow<'_, str> {
    static EMAILS: LazyLock<Regex> = LazyLock::new(|| Regex::new(EMAIL).expect("valid"));
    static PHONES: LazyLock<Regex> = LazyLock::new(|| Regex::new(PHONE).expect("valid"));
    match EMAILS.replace_all(text, EMAIL_MASK) {
        Cow::Borrowed(t) => PHONES.replace_all(t, PHONE_MASK),
        Cow::Owned(t) => Cow::Owned(PHONES.replace_all(&t, PHONE_MASK).into_owned()),
    }
}
