//! The public data model of docs/contract.md: input events and the outputs.

pub mod bounds;
pub mod event;
pub mod output;
pub mod personal;
pub mod time;
mod wide;

use serde::{Deserialize, Serialize};
use std::fmt;

pub use event::{Event, EventBody, ParseError};
pub use output::{ComplaintRow, DeadLetter, Decision, SlaEvent};

/// All timestamps inside complaintflow are UTC; inputs carry any offset.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The name used on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Parses the wire name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

wire_enum!(
    /// Complaint category (技术类 / 业务类 / 其他).
    Category { Technical = "technical", Business = "business", Other = "other" }
);
wire_enum!(
    /// Priority (一般 / 重要 / 紧急); it picks the handling target.
    Priority { General = "general", Important = "important", Urgent = "urgent" }
);
wire_enum!(
    /// An SLA stage of the regulation. `respond` (the first answer: a
    /// preliminary solution or a response) runs beside `handle` (completion)
    /// for priorities with a first-answer target.
    Stage {
        Acknowledge = "acknowledge",
        Assign = "assign",
        Respond = "respond",
        Handle = "handle",
        Report = "report",
        Confirm = "confirm",
    }
);
wire_enum!(
    /// What an SLA event says about its stage. `retracted`: the stage's
    /// `breached` and `escalated:breach` no longer hold, as evidence that it
    /// ended in time arrived after the breach.
    SlaKind {
        Started = "started",
        Warning = "warning",
        Breached = "breached",
        Met = "met",
        Late = "late",
        Extended = "extended",
        Escalated = "escalated",
        Cancelled = "cancelled",
        Retracted = "retracted",
    }
);
wire_enum!(
    /// How wide the problem's impact is, as the channel adapter saw it.
    Impact { Single = "single", Multiple = "multiple", Widespread = "widespread" }
);
wire_enum!(
    /// Kind of a `complaint.progress` note.
    ProgressKind {
        Update = "update",
        Response = "response",
        PreliminarySolution = "preliminary_solution",
    }
);

/// Chinese names for people (reports, notifications), one place.
impl Stage {
    pub fn zh(self) -> &'static str {
        match self {
            Stage::Acknowledge => "受理",
            Stage::Assign => "分配",
            Stage::Respond => "首次响应",
            Stage::Handle => "处理完成",
            Stage::Report => "结果反馈",
            Stage::Confirm => "回访",
        }
    }
}

/// The Chinese name of a channel of the contract's list; `None` for others
/// (the list is open).
pub fn channel_zh(channel: &str) -> Option<&'static str> {
    Some(match channel {
        "web" => "网页",
        "social" => "社交媒体",
        "phone" => "电话",
        "visit" => "上门",
        "email" => "邮件",
        "app" => "应用",
        "regulator" => "监管转办",
        _ => return None,
    })
}

impl output::Status {
    pub fn zh(self) -> &'static str {
        use output::Status::*;
        match self {
            Received => "待受理",
            Acknowledged => "待分配",
            Handling => "处理中",
            Handled => "待反馈",
            Reported => "待确认",
            Closed => "已满意",
            Archived => "已归档",
            Withdrawn => "已撤诉",
        }
    }
}

impl Priority {
    pub fn zh(self) -> &'static str {
        match self {
            Priority::General => "一般",
            Priority::Important => "重要",
            Priority::Urgent => "紧急",
        }
    }
}

impl Category {
    pub fn zh(self) -> &'static str {
        match self {
            Category::Technical => "技术类",
            Category::Business => "业务类",
            Category::Other => "其他",
        }
    }
}

impl SlaKind {
    pub fn zh(self) -> &'static str {
        match self {
            SlaKind::Started => "开始计时",
            SlaKind::Warning => "即将超时",
            SlaKind::Breached => "已超时",
            SlaKind::Met => "按时完成",
            SlaKind::Late => "超时完成",
            SlaKind::Extended => "已延期",
            SlaKind::Escalated => "已升级",
            SlaKind::Cancelled => "已取消",
            SlaKind::Retracted => "超时撤销",
        }
    }
}

impl Stage {
    /// Index into per-stage arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Stages in the order a complaint runs them.
    pub const COUNT: usize = 6;
}

/// Per-stage arrays as stored before `respond` existed had five entries
/// (no `respond` at index 2): read either form.
pub mod stage_array {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<[T; super::Stage::COUNT], D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Default + Copy,
    {
        let mut v: Vec<T> = Vec::deserialize(d)?;
        if v.len() == super::Stage::COUNT - 1 {
            v.insert(super::Stage::Respond.index(), T::default());
        }
        let n = v.len();
        v.try_into()
            .map_err(|_| serde::de::Error::invalid_length(n, &"one entry per stage"))
    }
}

impl Priority {
    /// Index into per-priority arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

// By hand: `wire_enum!` has no way to mark a `#[default]` variant.
#[allow(clippy::derivable_impls)]
impl Default for ProgressKind {
    fn default() -> Self {
        ProgressKind::Update
    }
}
