//! English inflection of names: singular and plural.

pub(super) fn looks_plural(word: &str) -> bool {
    let last = word.rsplit('_').next().unwrap_or(word);
    matches!(last, "people" | "children" | "data")
        || (last.ends_with('s')
            && !last.ends_with("ss")
            && !last.ends_with("us")
            && !last.ends_with("is")
            && last.len() > 2)
}

/// English singular of a plural noun, by the common rules.
pub fn singularize(word: &str) -> String {
    let (prefix, last) = match word.rsplit_once('_') {
        Some((p, l)) => (format!("{p}_"), l),
        None => (String::new(), word),
    };
    let one = match last {
        "people" => "person".to_owned(),
        "children" => "child".to_owned(),
        "statuses" => "status".to_owned(),
        "addresses" => "address".to_owned(),
        "analyses" => "analysis".to_owned(),
        "movies" | "cookies" | "pies" | "ties" | "lies" | "zombies" | "calories" | "rookies"
        | "selfies" | "brownies" | "smoothies" | "hoodies" | "goalies" | "species" | "series" => {
            last.strip_suffix('s')
                .filter(|_| !matches!(last, "species" | "series"))
                .unwrap_or(last)
                .to_owned()
        }
        _ => {
            if let Some(stem) = last.strip_suffix("ies").filter(|s| s.len() > 1) {
                format!("{stem}y")
            } else if ["sses", "shes", "ches", "xes", "zes"]
                .iter()
                .any(|s| last.ends_with(s))
            {
                last[..last.len() - 2].to_owned()
            } else {
                last.strip_suffix('s').unwrap_or(last).to_owned()
            }
        }
    };
    format!("{prefix}{one}")
}

/// English plural of a singular noun, by the common rules.
pub fn pluralize(word: &str) -> String {
    let (prefix, last) = match word.rsplit_once('_') {
        Some((p, l)) => (format!("{p}_"), l),
        None => (String::new(), word),
    };
    let many = match last {
        "person" => "people".to_owned(),
        "child" => "children".to_owned(),
        _ if last.ends_with('y')
            && !last.ends_with("ay")
            && !last.ends_with("ey")
            && !last.ends_with("oy") =>
        {
            format!("{}ies", &last[..last.len() - 1])
        }
        _ if ["s", "x", "z", "ch", "sh"]
            .iter()
            .any(|s| last.ends_with(s)) =>
        {
            format!("{last}es")
        }
        _ => format!("{last}s"),
    };
    format!("{prefix}{many}")
}

/// Whether `a` and `b` differ by one edit: a letter changed, added or removed, or two
/// neighbouring letters swapped.
pub(super) fn one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a == b {
        return false;
    }
    if a.len() == b.len() {
        let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
        return match diff.as_slice() {
            [_] => true,
            [x, y] => *y == x + 1 && a[*x] == b[*y] && a[*y] == b[*x],
            _ => false,
        };
    }
    let (short, long) = if a.len() < b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() != short.len() + 1 {
        return false;
    }
    let i = short
        .iter()
        .zip(long.iter())
        .take_while(|(x, y)| x == y)
        .count();
    short[i..] == long[i + 1..]
}
