//! What the demo's complaints say: channels, names and descriptions in
//! Chinese and English, by category and impact.

use super::Gen;
use crate::model::Impact;
use crate::model::event::*;
use rand::RngExt;

const CHANNELS: &[(&str, u32)] = &[
    ("web", 25),
    ("phone", 25),
    ("app", 15),
    ("social", 12),
    ("email", 10),
    ("visit", 8),
    ("regulator", 5),
];
const NAMES: &[&str] = &[
    "王芳",
    "李伟",
    "张敏",
    "刘洋",
    "陈静",
    "杨磊",
    "赵丽",
    "黄强",
    "Ann Lee",
    "Tom Baker",
    "Maria Rossi",
    "Sam Ortiz",
];
const TECHNICAL: &[&str] = &[
    "家里宽带断网了,光猫灯一直闪",
    "晚上网速慢得厉害,看视频一直卡顿",
    "WiFi 经常掉线,重启路由器也没用",
    "光纤入户后一直无法上网",
    "打游戏延迟很高,丢包严重",
    "My internet is down since this morning",
    "Speed drops to 2 Mbps every evening",
    "Router keeps disconnecting every few minutes",
    "High latency and packet loss on my fiber line",
];
const WIDESPREAD: &[&str] = &[
    "整个小区都无法上网,已经三个小时了",
    "Whole building has no internet since 8am, all users affected",
];
const SECURITY: &[&str] = &[
    "发现贵公司用户中心存在安全漏洞,可以看到别人的账单",
    "I think my account was hacked, there are logins from abroad",
];
const BUSINESS: &[&str] = &[
    "本月账单重复扣费,要求退款",
    "套餐到期后被自动续费",
    "申请的发票一直没有开具",
    "合同里的优惠没有兑现",
    "销户后还在扣费",
    "I was charged twice on my bill this month",
    "Please refund the fee for the plan I cancelled",
    "My invoice for October is missing",
    "The contract price differs from what was advertised",
];
const MIXED: &[&str] = &[
    "网络故障一周了还照常扣费,要求退费",
    "Outage for three days but I was still charged the full fee",
];
const OTHER: &[&str] = &[
    "客服电话一直打不通",
    "上门安装的工作人员态度很差",
    "Nobody replied to my letter",
    "The technician arrived two hours late",
];

impl Gen<'_> {
    pub(super) fn received(&mut self, i: usize) -> Received {
        let total: u32 = CHANNELS.iter().map(|c| c.1).sum();
        let mut roll = self.rng.random_range(0..total);
        let channel = CHANNELS
            .iter()
            .find(|c| {
                roll < c.1 || {
                    roll -= c.1;
                    false
                }
            })
            .map_or("web", |c| c.0);
        let (description, impact) = match self.rng.random_range(0..100) {
            0..=39 => (self.pick(TECHNICAL), Some(Impact::Single)),
            40..=43 => (self.pick(WIDESPREAD), Some(Impact::Widespread)),
            44..=45 => (self.pick(SECURITY), None),
            46..=79 => (self.pick(BUSINESS), None),
            80..=87 => (self.pick(MIXED), Some(Impact::Multiple)),
            _ => (self.pick(OTHER), None),
        };
        let previous: u32 = if self.chance(0.08) {
            self.rng.random_range(2..6)
        } else {
            self.rng.random_range(0..2)
        };
        let region = self.pick(&["north", "south", "east", "west"]);
        let attributes = serde_json::value::RawValue::from_string(format!(
            r#"{{"region":"{region}","previous_complaints_90d":{previous}}}"#
        ))
        .expect("valid JSON");
        Received {
            channel: channel.to_string(),
            customer: Customer {
                id: format!("K{:06}", self.rng.random_range(0..(i as u32 * 4 + 100))),
                name: self.pick(NAMES).to_string(),
                phone: Some(format!(
                    "1{:010}",
                    self.rng.random_range(3_000_000_000u64..9_999_999_999)
                )),
                email: None,
            },
            description: description.to_string(),
            happened_at: None,
            impact,
            attributes: Some(attributes),
        }
    }
}
