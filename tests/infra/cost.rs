//! The estimate before a deploy on AWS, held to what no linter checks: the installation prices
//! its own Region, and every budget the `MonthlyBudgetUsd` parameter allows is one the code
//! reads as that many dollars (and an empty one is no budget at all).

use super::{parsed, text_of};

fn vars(pairs: &[(&str, &str)]) -> kiln::config::Config {
    let map = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    kiln::config::Config::from_vars(&map).unwrap()
}

#[test]
fn the_installation_prices_its_region_and_its_budget_reads_as_dollars() {
    let t = parsed();
    let globals = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        globals["KILN_PRICE_REGION"],
        serde_yaml::Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
            tag: serde_yaml::value::Tag::new("Ref"),
            value: "AWS::Region".into(),
        })),
        "estimates use the Region the installation runs in"
    );
    let parameter = &t["Parameters"]["MonthlyBudgetUsd"];
    assert_eq!(
        globals["KILN_MONTHLY_BUDGET_USD"],
        serde_yaml::Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
            tag: serde_yaml::value::Tag::new("Ref"),
            value: "MonthlyBudgetUsd".into(),
        }))
    );
    assert_eq!(
        text_of(&parameter["Default"]),
        "",
        "no budget unless one is set"
    );
    let pattern = text_of(&parameter["AllowedPattern"]);
    // The values CloudFormation would take, by its pattern, read by the code.
    let allowed = |v: &str| {
        // The pattern, spelled out: empty, or up to 7 digits with up to 2 decimals.
        assert_eq!(pattern, r"^([0-9]{1,7}(\.[0-9]{1,2})?)?$");
        let (whole, cents) = v.split_once('.').unwrap_or((v, ""));
        v.is_empty()
            || (1..=7).contains(&whole.len())
                && whole.chars().all(|c| c.is_ascii_digit())
                && (!v.contains('.') || (1..=2).contains(&cents.len()))
                && cents.chars().all(|c| c.is_ascii_digit())
    };
    for (value, dollars) in [
        ("", None),
        ("0", Some(0.0)),
        ("25", Some(25.0)),
        ("1234567.89", Some(1_234_567.89)),
    ] {
        assert!(allowed(value), "{value}");
        let config = vars(&[("KILN_MONTHLY_BUDGET_USD", value)]);
        assert_eq!(config.costs.monthly_budget_usd, dollars, "{value}");
    }
    for refused in ["-1", "1e3", "$5", "12345678"] {
        assert!(!allowed(refused), "{refused}");
    }
}
