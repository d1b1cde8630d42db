//! What the departments say they found and did when handling ends: a
//! vocabulary per lead department with skewed frequencies (a few causes
//! make most complaints, as in real fault statistics), each with the
//! measures and result that go with it, so the report's top causes and
//! improvement measures mean something.

use std::hash::{Hash, Hasher};

/// `(cause, measures, result, weight)`.
type Cause = (&'static str, &'static str, &'static str, u32);

const TECHNICAL: &[Cause] = &[
    (
        "光猫故障 modem fault",
        "更换光猫 replaced the modem",
        "已恢复上网 service restored",
        30,
    ),
    (
        "光纤中断 fibre cut",
        "熔接光纤 spliced the fibre",
        "已恢复上网 service restored",
        20,
    ),
    (
        "路由器配置错误 router config",
        "远程重置配置 reset the configuration remotely",
        "已恢复上网 service restored",
        12,
    ),
    (
        "局端设备故障 exchange fault",
        "更换局端板卡 replaced the line card",
        "片区恢复 area restored",
        10,
    ),
    (
        "DNS 解析异常 DNS failure",
        "切换备用 DNS switched to the standby DNS",
        "已恢复上网 service restored",
        8,
    ),
    (
        "无线覆盖不足 weak Wi-Fi",
        "加装无线中继 added a Wi-Fi repeater",
        "信号改善 signal improved",
        6,
    ),
    (
        "机顶盒故障 set-top box",
        "更换机顶盒 replaced the set-top box",
        "画面恢复 picture restored",
        5,
    ),
    (
        "用户终端问题 user's device",
        "指导用户重启和更换网线 guided a restart and a new cable",
        "已恢复上网 service restored",
        5,
    ),
    (
        "账号被盗用 account stolen",
        "重置密码并冻结异地登录 reset the password, blocked foreign logins",
        "账号已找回 account recovered",
        4,
    ),
];

const BUSINESS: &[Cause] = &[
    (
        "计费系统错误 billing error",
        "冲正多收费用 reversed the overcharge",
        "已退款 refunded",
        30,
    ),
    (
        "误销售套餐 mis-sold plan",
        "改为约定套餐并补差价 changed to the agreed plan, paid the difference",
        "客户认可 customer agreed",
        18,
    ),
    (
        "自动续费未告知 silent renewal",
        "取消续费并退款 cancelled the renewal, refunded",
        "已退款 refunded",
        12,
    ),
    (
        "发票开具延迟 late invoice",
        "补开发票 issued the invoice",
        "已寄出 sent",
        10,
    ),
    (
        "优惠未兑现 promo not applied",
        "补发优惠 applied the promotion",
        "已兑现 applied",
        10,
    ),
    (
        "销户未完成 open cancellation",
        "完成销户并停止计费 closed the account, stopped billing",
        "已停止计费 billing stopped",
        8,
    ),
    (
        "故障未减免 no outage credit",
        "按故障时长减免 credited the outage",
        "已减免 credited",
        6,
    ),
];

const CUSTOMER_SERVICE: &[Cause] = &[
    (
        "员工服务态度 staff attitude",
        "批评教育并当面道歉 coached the employee, apologised in person",
        "客户接受道歉 apology accepted",
        35,
    ),
    (
        "热线排队过长 hotline queue",
        "高峰期增加坐席 more agents at peak hours",
        "已回电 called back",
        25,
    ),
    (
        "安装师傅爽约 installer no-show",
        "重新预约并致歉 rebooked, apologised",
        "已安装 installed",
        20,
    ),
    (
        "未按时回复信函 letter unanswered",
        "书面答复 answered in writing",
        "已回复 answered",
        12,
    ),
    (
        "营销电话骚扰 sales calls",
        "号码加入免打扰名单 number put on the do-not-call list",
        "已停止来电 calls stopped",
        8,
    ),
];

/// The cause, measures and result for a complaint handled by `lead`: a
/// weighted choice fixed by the complaint's id, so it draws nothing from
/// the generator's random stream (the rest of the demo stays as it was).
pub(super) fn cause_for(
    lead: &str,
    complaint_id: &str,
) -> (&'static str, &'static str, &'static str) {
    let table = match lead {
        "technical" => TECHNICAL,
        "business" => BUSINESS,
        _ => CUSTOMER_SERVICE,
    };
    let total: u64 = table.iter().map(|c| u64::from(c.3)).sum();
    let mut h = rustc_hash::FxHasher::default();
    complaint_id.hash(&mut h);
    // FxHash's low bits are weak: mix in the high half.
    let mut roll = (h.finish() ^ (h.finish() >> 32)) % total.max(1);
    for &(cause, measures, result, weight) in table {
        if roll < u64::from(weight) {
            return (cause, measures, result);
        }
        roll -= u64::from(weight);
    }
    let (cause, measures, result, _) = table[0];
    (cause, measures, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_skewed_and_belong_to_the_department() {
        let mut counts = std::collections::HashMap::new();
        for i in 0..10_000 {
            let (cause, _, _) = cause_for("technical", &format!("CF-{i:06}"));
            *counts.entry(cause).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), TECHNICAL.len(), "every cause occurs");
        let modem = counts["光猫故障 modem fault"];
        let account = counts["账号被盗用 account stolen"];
        assert!(
            modem > 5 * account,
            "{modem} against {account}: skewed as weighted"
        );
        assert!(
            BUSINESS
                .iter()
                .any(|c| c.0 == cause_for("business", "CF-000001").0)
        );
        assert_eq!(
            cause_for("x", "CF-1"),
            cause_for("x", "CF-1"),
            "fixed by the id"
        );
    }
}
