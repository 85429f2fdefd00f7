//! `fake-osv [name==version:ID:fixed]...`: runs the tests' stand-in of the OSV vulnerability
//! database ([`kiln_integration_tests::fake_osv`]), knowing the advisories given (none without
//! arguments), after printing its query URL (what `KILN_OSV_URL` is set to) on the first line.
//! It stops when its standard input closes, so that it ends with the test that started it.
//! The browser tests start it.

use kiln_integration_tests::fake_osv::{Advisory, FakeOsv};

fn main() {
    let advisories: Vec<Advisory> = std::env::args()
        .skip(1)
        .map(|a| {
            let parsed = a.split_once("==").and_then(|(package, rest)| {
                let mut parts = rest.splitn(3, ':');
                Some(Advisory {
                    package: package.to_lowercase(),
                    version: parts.next()?.to_owned(),
                    id: parts.next()?.to_owned(),
                    summary: format!("a stand-in advisory of {package}"),
                    fixed: parts.next()?.to_owned(),
                })
            });
            parsed.unwrap_or_else(|| panic!("usage: fake-osv [name==version:ID:fixed]..., not {a}"))
        })
        .collect();
    let osv = FakeOsv::start(advisories);
    println!("{}", osv.url());
    // Until the test that started it is gone.
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}
