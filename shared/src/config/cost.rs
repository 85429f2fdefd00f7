//! What deploys are estimated to cost, and what an owner means to spend: `KILN_PRICE_*` and
//! `KILN_MONTHLY_BUDGET_USD`.

use std::path::PathBuf;

use super::{invalid, ConfigError};

/// How deploys are priced before they run.
#[derive(Debug, Clone, PartialEq)]
pub struct CostSettings {
    /// `KILN_PRICE_REGION`: the AWS region whose prices an estimate uses (default
    /// `us-east-1`; on AWS, the installation's region).
    pub region: String,
    /// `KILN_PRICE_TABLE`: a price table file to use instead of the one in the repo
    /// (`shared/prices/aws.json` is the format).
    pub price_table: Option<PathBuf>,
    /// `KILN_MONTHLY_BUDGET_USD`: what one owner's running apps may cost a month on AWS; a
    /// deploy that would go over it waits for the owner's confirmation. Unset: no budget.
    pub monthly_budget_usd: Option<f64>,
}

pub(super) fn cost_settings(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<CostSettings, ConfigError> {
    let region = get("KILN_PRICE_REGION").unwrap_or_else(|| "us-east-1".to_owned());
    let region_ok = !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !region_ok {
        return Err(invalid(
            "KILN_PRICE_REGION",
            &region,
            "an AWS region name such as us-east-1",
        ));
    }
    let monthly_budget_usd = match get("KILN_MONTHLY_BUDGET_USD").filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(v) => match v.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Some(n),
            _ => {
                return Err(invalid(
                    "KILN_MONTHLY_BUDGET_USD",
                    &v,
                    "a number of US dollars, 0 or more",
                ))
            }
        },
    };
    Ok(CostSettings {
        region,
        price_table: get("KILN_PRICE_TABLE")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        monthly_budget_usd,
    })
}
