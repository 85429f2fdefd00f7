//! What a version would cost a month on AWS: the dated price table in the repo
//! (`shared/prices/aws.json`, or the file `KILN_PRICE_TABLE` names) applied to what the
//! version's own stack template runs.
//!
//! The lines: Fargate arm64 vCPU and memory hours for the task size and count the template
//! asks for, the app's share of the installation's load balancer (its hours and an assumed
//! load, split between the apps it serves), CloudWatch Logs ingestion and storage for an
//! assumed number of requests (one JSON line each, kept as long as the installation keeps
//! app logs), ECR storage of the images the repository keeps, and, for an app with a
//! database, its share of the apps' Aurora Serverless v2 cluster. What the figures assume is
//! part of the estimate and shown with it.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{CostEstimate, CostItem};

/// The table in the repo.
const BUILT_IN: &str = include_str!("../../prices/aws.json");

/// Images an app's repository keeps (`runner::ecs` expires older ones).
pub const IMAGES_KEPT: u32 = 10;

/// A price table: its date, what its figures assume, and each region's prices.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    /// When the prices were read, `YYYY-MM-DD`.
    pub date: String,
    /// Where they come from.
    pub source: String,
    /// What an estimate takes for granted.
    pub assumptions: Assumptions,
    /// Prices by region name.
    pub regions: BTreeMap<String, RegionPrices>,
}

/// What an estimate takes for granted, stated with it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumptions {
    /// Hours in a month.
    pub hours_per_month: f64,
    /// Requests an app answers a month.
    pub requests_per_month: f64,
    /// Bytes of log a request writes (one JSON line).
    pub log_bytes_per_request: f64,
    /// Load balancer capacity units the app uses on average.
    pub load_balancer_lcu: f64,
    /// Size of one image in ECR, in GB.
    pub image_gb: f64,
    /// Aurora capacity unit hours an app's database uses a month (the cluster pauses at 0).
    pub database_acu_hours_per_month: f64,
    /// Storage an app's database takes, in GB.
    pub database_storage_gb: f64,
}

/// One region's prices, in US dollars.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    /// Fargate Linux/ARM, per vCPU-hour.
    pub fargate_arm64_vcpu_hour: f64,
    /// Fargate Linux/ARM, per GB-hour of memory.
    pub fargate_arm64_gb_hour: f64,
    /// Application Load Balancer, per hour.
    pub alb_hour: f64,
    /// Application Load Balancer, per LCU-hour.
    pub alb_lcu_hour: f64,
    /// CloudWatch Logs, per GB ingested.
    pub logs_ingestion_gb: f64,
    /// CloudWatch Logs, per GB-month stored.
    pub logs_storage_gb_month: f64,
    /// ECR, per GB-month stored.
    pub ecr_storage_gb_month: f64,
    /// Aurora Serverless v2, per ACU-hour.
    pub aurora_serverless_v2_acu_hour: f64,
    /// Aurora, per GB-month stored.
    pub aurora_storage_gb_month: f64,
}

impl PriceTable {
    /// The table in the repo.
    pub fn built_in() -> Self {
        Self::parse(BUILT_IN).expect("the built-in price table parses")
    }

    /// A table from JSON, every price and assumption checked to be a number ≥ 0 and the date
    /// to be `YYYY-MM-DD`.
    pub fn parse(json: &str) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        // Every figure of the assumptions and of each region's prices (JSON has no NaN or
        // infinity, so only a sign can be wrong).
        let figures = value["assumptions"]
            .as_object()
            .into_iter()
            .chain(
                value["regions"]
                    .as_object()
                    .into_iter()
                    .flat_map(|r| r.values().filter_map(serde_json::Value::as_object)),
            )
            .flatten();
        for (name, figure) in figures {
            if figure.as_f64().is_some_and(|x| x < 0.0) {
                return Err(format!(
                    "`{name}` must be a number of 0 or more, not {figure}"
                ));
            }
        }
        let table: PriceTable = serde_json::from_value(value).map_err(|e| e.to_string())?;
        let date_ok = table.date.len() == 10
            && table.date.chars().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !date_ok {
            return Err(format!("`date` must be YYYY-MM-DD, not {:?}", table.date));
        }
        if table.regions.is_empty() {
            return Err("the table prices no region".into());
        }
        Ok(table)
    }
}

/// What runs for one app environment, as its stack template asks.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Task CPU in vCPU (the template's `Cpu` in units of 1/1024).
    pub vcpu: f64,
    /// Task memory in GB (the template's `Memory` in MiB).
    pub memory_gb: f64,
    /// Tasks running.
    pub tasks: u32,
    /// Whether the app keeps data in a database.
    pub database: bool,
    /// How long the installation keeps app logs, in days.
    pub log_retention_days: u32,
    /// Apps sharing the load balancer, this one included.
    pub apps_on_load_balancer: u32,
}

impl Workload {
    /// The task size and count from the defaults of a version's `deploy/cloudformation.yaml`
    /// (the deployer passes neither), or why they cannot be read.
    pub fn from_template(template: &str) -> Result<(f64, f64, u32), String> {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(template).map_err(|e| format!("the stack template: {e}"))?;
        let default = |name: &str| -> Result<f64, String> {
            let v = &doc["Parameters"][name]["Default"];
            let n = match v {
                serde_yaml::Value::Number(n) => n.as_f64(),
                serde_yaml::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            n.filter(|n| n.is_finite() && *n > 0.0).ok_or_else(|| {
                format!("the stack template's parameter {name} has no usable default")
            })
        };
        let tasks = default("DesiredCount")?;
        Ok((
            default("Cpu")? / 1024.0,
            default("Memory")? / 1024.0,
            tasks.round() as u32,
        ))
    }
}

/// A unit price as the table has it: every digit it needs, no trailing zeros.
fn price(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("${s}")
}

/// A whole number with its thousands apart: "1,000,000".
fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// The month of `workload` in `region` at `table`'s prices; `Err` names a region the table
/// does not price.
pub fn estimate(
    table: &PriceTable,
    region: &str,
    workload: &Workload,
    billed: bool,
) -> Result<CostEstimate, String> {
    let p = table.regions.get(region).ok_or_else(|| {
        format!(
            "the price table of {} has no prices for the region {region} (it has {}); set \
             KILN_PRICE_TABLE to a table that does",
            table.date,
            table.regions.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let a = &table.assumptions;
    let hours = a.hours_per_month;
    let tasks = f64::from(workload.tasks);
    let apps = f64::from(workload.apps_on_load_balancer.max(1));
    let ingested_gb = a.requests_per_month * a.log_bytes_per_request / 1e9;
    let stored_gb = ingested_gb * f64::from(workload.log_retention_days) / 30.0;
    let images_gb = a.image_gb * f64::from(IMAGES_KEPT);
    let mut items = vec![
        CostItem {
            name: "Fargate vCPU (arm64)".into(),
            detail: format!(
                "{} task(s) × {} vCPU × {} h at {}/vCPU-hour",
                workload.tasks,
                number(workload.vcpu),
                number(hours),
                price(p.fargate_arm64_vcpu_hour)
            ),
            monthly_usd: tasks * workload.vcpu * hours * p.fargate_arm64_vcpu_hour,
        },
        CostItem {
            name: "Fargate memory (arm64)".into(),
            detail: format!(
                "{} task(s) × {} GB × {} h at {}/GB-hour",
                workload.tasks,
                number(workload.memory_gb),
                number(hours),
                price(p.fargate_arm64_gb_hour)
            ),
            monthly_usd: tasks * workload.memory_gb * hours * p.fargate_arm64_gb_hour,
        },
        CostItem {
            name: "Load balancer (share)".into(),
            detail: format!(
                "({}/hour + {} LCU at {}/LCU-hour) × {} h, shared by {} app(s)",
                price(p.alb_hour),
                number(a.load_balancer_lcu),
                price(p.alb_lcu_hour),
                number(hours),
                workload.apps_on_load_balancer.max(1)
            ),
            monthly_usd: (p.alb_hour + a.load_balancer_lcu * p.alb_lcu_hour) * hours / apps,
        },
        CostItem {
            name: "CloudWatch Logs ingestion".into(),
            detail: format!("{ingested_gb:.3} GB at {}/GB", price(p.logs_ingestion_gb)),
            monthly_usd: ingested_gb * p.logs_ingestion_gb,
        },
        CostItem {
            name: "CloudWatch Logs storage".into(),
            detail: format!(
                "{stored_gb:.3} GB kept {} days at {}/GB-month",
                workload.log_retention_days,
                price(p.logs_storage_gb_month)
            ),
            monthly_usd: stored_gb * p.logs_storage_gb_month,
        },
        CostItem {
            name: "ECR image storage".into(),
            detail: format!(
                "up to {IMAGES_KEPT} images × {} GB at {}/GB-month",
                number(a.image_gb),
                price(p.ecr_storage_gb_month)
            ),
            monthly_usd: images_gb * p.ecr_storage_gb_month,
        },
    ];
    if workload.database {
        items.push(CostItem {
            name: "Aurora Serverless v2 (database)".into(),
            detail: format!(
                "{} ACU-hours at {}/ACU-hour + {} GB at {}/GB-month",
                number(a.database_acu_hours_per_month),
                price(p.aurora_serverless_v2_acu_hour),
                number(a.database_storage_gb),
                price(p.aurora_storage_gb_month)
            ),
            monthly_usd: a.database_acu_hours_per_month * p.aurora_serverless_v2_acu_hour
                + a.database_storage_gb * p.aurora_storage_gb_month,
        });
    }
    for item in &mut items {
        item.monthly_usd = (item.monthly_usd * 10_000.0).round() / 10_000.0;
    }
    let monthly_usd = (items.iter().map(|i| i.monthly_usd).sum::<f64>() * 100.0).round() / 100.0;
    Ok(CostEstimate {
        region: region.to_owned(),
        prices_date: table.date.clone(),
        items,
        monthly_usd,
        billed,
        assumptions: [
            Some(format!(
                "{} requests a month, {} bytes of log each",
                grouped(a.requests_per_month),
                number(a.log_bytes_per_request)
            )),
            Some(format!("images of {} GB", number(a.image_gb))),
            workload.database.then(|| {
                format!(
                    "a database busy for {} ACU-hours a month",
                    number(a.database_acu_hours_per_month)
                )
            }),
            Some(format!("prices: {}", table.source)),
        ]
        .into_iter()
        .flatten()
        .collect(),
    })
}

/// What every estimate needs, made once at start: the table (or why it could not be read),
/// the region, the owner's budget, whether deploys are billed here, and how long app logs
/// are kept.
#[derive(Debug, Clone)]
pub struct Costs {
    /// The price table, or why the configured one could not be read.
    pub table: Result<PriceTable, String>,
    /// The region priced.
    pub region: String,
    /// What one owner's running apps may cost a month.
    pub monthly_budget_usd: Option<f64>,
    /// Whether deploys here run on AWS (locally they are free, and only estimated).
    pub billed: bool,
    /// How long the installation keeps app logs, in days.
    pub log_retention_days: u32,
}

impl Costs {
    /// From the settings: the table in the repo, or the file `KILN_PRICE_TABLE` names.
    pub fn from_settings(
        settings: &crate::config::CostSettings,
        billed: bool,
        log_retention_days: u32,
    ) -> Self {
        let table = match &settings.price_table {
            None => Ok(PriceTable::built_in()),
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|text| PriceTable::parse(&text))
                .map_err(|e| format!("the price table {}: {e}", path.display())),
        };
        Costs {
            table,
            region: settings.region.clone(),
            monthly_budget_usd: settings.monthly_budget_usd,
            billed,
            log_retention_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(database: bool) -> Workload {
        Workload {
            vcpu: 0.25,
            memory_gb: 0.5,
            tasks: 1,
            database,
            log_retention_days: 30,
            apps_on_load_balancer: 4,
        }
    }

    #[test]
    fn the_built_in_table_prices_a_small_task_by_hand() {
        let table = PriceTable::built_in();
        let e = estimate(&table, "us-east-1", &workload(false), true).unwrap();
        // Worked out by hand from the table: 0.25 × 730 × 0.03238, 0.5 × 730 × 0.00356,
        // (0.0225 + 0.5 × 0.008) × 730 / 4, 0.3 GB × 0.50, 0.3 GB × 0.03, 2 GB × 0.10.
        let want = [5.9094, 1.2994, 4.8363, 0.15, 0.009, 0.2];
        let got: Vec<f64> = e.items.iter().map(|i| i.monthly_usd).collect();
        assert_eq!(got.len(), want.len(), "{e:#?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 0.00011, "{g} is not {w}: {e:#?}");
        }
        assert_eq!(e.monthly_usd, 12.40);
        assert_eq!(e.prices_date, "2026-11-01");
        assert_eq!(
            e.assumptions[0],
            "1,000,000 requests a month, 300 bytes of log each"
        );
        assert!(!e.assumptions.iter().any(|a| a.contains("database")));
        let with_db = estimate(&table, "us-east-1", &workload(true), true).unwrap();
        // 73 × 0.12 + 1 × 0.10
        assert_eq!(with_db.items.last().unwrap().monthly_usd, 8.86);
        assert_eq!(with_db.monthly_usd, 21.26);
    }

    #[test]
    fn an_unpriced_region_and_a_bad_table_are_said() {
        let table = PriceTable::built_in();
        let err = estimate(&table, "eu-west-1", &workload(false), true).unwrap_err();
        assert!(
            err.contains("eu-west-1") && err.contains("us-east-1"),
            "{err}"
        );
        let mut json: serde_json::Value = serde_json::from_str(BUILT_IN).unwrap();
        json["regions"]["us-east-1"]["alb_hour"] = serde_json::json!(-1);
        let err = PriceTable::parse(&json.to_string()).unwrap_err();
        assert!(err.contains("alb_hour"), "{err}");
        json["regions"]["us-east-1"]["alb_hour"] = serde_json::json!(0.0225);
        json["assumptions"]["image_gb"] = serde_json::json!(-0.5);
        let err = PriceTable::parse(&json.to_string()).unwrap_err();
        assert!(err.contains("image_gb"), "{err}");
        json["assumptions"]["image_gb"] = serde_json::json!(0.2);
        assert!(PriceTable::parse(&json.to_string()).is_ok());
        json["date"] = serde_json::json!("Nov 2026");
        assert!(PriceTable::parse(&json.to_string())
            .unwrap_err()
            .contains("YYYY-MM-DD"));
        assert!(PriceTable::parse("{\"date\": \"2026-01-01\"}").is_err());
    }

    #[test]
    fn the_task_size_is_the_templates_own() {
        let template = "Parameters:\n  Cpu:\n    Type: String\n    Default: \"512\"\n  Memory:\n    Type: String\n    Default: \"1024\"\n  DesiredCount:\n    Type: Number\n    Default: 2\nResources:\n  X:\n    Type: AWS::ECS::Service\n    Properties:\n      Cpu: !Ref Cpu\n";
        assert_eq!(Workload::from_template(template), Ok((0.5, 1.0, 2)));
        assert!(Workload::from_template("Parameters: {}\n").is_err());
    }
}
