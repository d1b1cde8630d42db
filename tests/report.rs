//! The meeting report's figures equal the meeting queries' results on the
//! meeting fixture (tests/support/warehouse.rs MEETING_RESULTS), read from a
//! replay directory; the page is self-contained and every chart has bars.

use complaintflow::model::Stage;
use complaintflow::report::{compute, read_dir};
use std::process::Command;

#[test]
fn the_report_of_the_meeting_fixture_gives_the_meeting_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let input =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meeting.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
        .args(["replay", "--input", input.to_str().unwrap(), "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The input beside the outputs, as the demo leaves it: causes come from it.
    std::fs::copy(&input, dir.path().join("input.jsonl")).unwrap();
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let rows = read_dir(dir.path(), beijing).unwrap();
    let day = |d: &str| d.parse::<chrono::NaiveDate>().ok();
    let f = compute(
        &rows,
        day("2026-03-02"),
        day("2026-03-03"),
        chrono::Utc::now(),
    );
    // sla_compliance.sql: stage, met, breached, late, compliance %.
    let stages: Vec<String> = f
        .by_stage
        .iter()
        .map(|(s, c)| {
            format!(
                "{s}\t{}\t{}\t{}\t{}",
                c.met,
                c.breached,
                c.late,
                c.pct().unwrap()
            )
        })
        .collect();
    assert_eq!(
        stages,
        [
            "acknowledge\t3\t1\t1\t75",
            "assign\t4\t0\t0\t100",
            "respond\t1\t1\t1\t50",
            "handle\t5\t0\t0\t100",
            "report\t5\t0\t0\t100",
            "confirm\t4\t1\t1\t80",
        ]
    );
    // sla_by_department.sql, summed over priorities: business 8/1, technical 14/2.
    let lead = |d: &str| {
        f.by_stage_lead
            .iter()
            .filter(|((_, l), _)| l == d)
            .fold((0, 0), |(m, b), (_, c)| (m + c.met, b + c.breached))
    };
    assert_eq!((lead("business"), lead("technical")), ((8, 1), (14, 2)));
    // reopen_satisfaction.sql's total row: 5 received, 1 reopened, 4
    // confirmed, 3 first-time and 4 finally satisfied.
    assert_eq!(
        (
            f.complaints,
            f.reopened,
            f.confirmed,
            f.first_time_satisfied,
            f.final_satisfied
        ),
        (5, 1, 4, 3, 4)
    );
    // daily_volume.sql: three complaints on the 2nd, two on the 3rd.
    let mut days = std::collections::BTreeMap::new();
    for ((d, _), n) in &f.by_day_channel {
        *days.entry(d.to_string()).or_insert(0) += n;
    }
    assert_eq!(
        days.into_iter().collect::<Vec<_>>(),
        [("2026-03-02".to_string(), 3), ("2026-03-03".to_string(), 2)]
    );
    // dead_letters.sql.
    assert_eq!(
        f.dead_by_reason
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>(),
        ["unknown_complaint 1", "unparsable 1"]
    );
    assert_eq!(f.by_stage.get(&Stage::Handle).map(|c| c.met), Some(5));
    // top_causes.sql.
    let causes: Vec<String> = f
        .top_causes
        .iter()
        .map(|(c, k, n)| format!("{c}\t{k}\t{n}"))
        .collect();
    assert_eq!(
        causes,
        [
            "光猫故障\ttechnical\t2",
            "计费系统重复扣费\tbusiness\t2",
            "光缆被挖断\ttechnical\t1"
        ]
    );

    // Summarised per category: how many causes, the most frequent first.
    let technical = &f.causes_by_category["technical"];
    assert_eq!(technical.0, 3);
    assert_eq!(technical.1[0], ("光猫故障".to_string(), 2));
    assert_eq!(f.causes_by_category["business"].0, 2);

    // The page of `from..=to`, as `report` writes it.
    let page_of = |from: &str, to: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_complaintflow"))
            .args(["report", "--dir"])
            .arg(dir.path())
            .args(["--from", from, "--to", to])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(dir.path().join("report.html")).unwrap()
    };
    // The page: self-contained, every chart has bars.
    let page = page_of("2026-03-02", "2026-03-03");
    // Self-contained: the script is inline, nothing is fetched.
    assert!(
        !page.contains("<script src") && !page.contains("http://") && !page.contains("https://")
    );
    // Bar charts (compliance, breaches by department, mixes, causes, dead
    // letters) and line charts (the trend: volume, six stages, rates).
    let figures: Vec<&str> = page.split("<figure>").skip(1).collect();
    assert!(figures.len() >= 8, "{} bar charts", figures.len());
    let lines = page.matches("<figure class=\"c\">").count();
    assert_eq!(lines, 8, "line charts");
    assert!(page.contains("投诉原因 Top causes"));
    for fig in figures {
        assert!(
            fig.contains("<rect"),
            "a chart without bars: {}",
            &fig[..fig.len().min(120)]
        );
    }
    for label in [
        "一次满意率 First-time satisfaction",
        "最终满意率 Final satisfaction",
        "超时撤销 Retracted breaches",
        "即将超时清单 At risk",
        "超时投诉 Breached in the period",
        "部门排名 Departments ranked",
    ] {
        assert!(page.contains(label), "{label}");
    }
    let tile = |name: &str| {
        let at = page.find(&format!("<span>{name}")).expect(name);
        let start = page[..at].rfind("<div><b>").unwrap();
        page[start..at].to_string()
    };
    assert!(
        tile("一次满意率").contains("<b>75.0%</b>"),
        "first-time satisfaction 75 %"
    );
    // The drill-down lists hold what the tiles count.
    let m = complaintflow::report::meeting(
        &rows,
        day("2026-03-02"),
        day("2026-03-03"),
        chrono::Utc::now(),
    );
    assert_eq!(m.breached.len() as u64, f.breaches);
    assert_eq!(m.reopened.len() as u64, f.reopened);
    assert_eq!(
        m.dead_letters.len() as u64,
        f.dead_by_reason.values().sum::<u64>()
    );
    assert!(m.breached.iter().all(|(r, c)| r.breached && c.is_some()));
    // The compliance bars are coloured against the shipped targets: handle
    // met 5 of 5 (green), acknowledge 3 of 4 (red under 98 %).
    assert!(page.contains("100.0%  5/5  目标 90%"));
    assert!(page.contains("class=\"bad\"/><text x=\""));

    // A day against the day before: three complaints, then two.
    let page = page_of("2026-03-03", "2026-03-03");
    assert!(
        page.contains("对比上期 vs previous 2026-03-02 – 2026-03-02"),
        "header names the previous day"
    );
    let tile = &page[page.find("<div><b>2</b>").expect("two complaints")..];
    assert!(
        tile.starts_with("<div><b>2</b><em class=\"flat\">▼ -1 (-33.3%) 较上期"),
        "{}",
        &tile[..120]
    );
}
