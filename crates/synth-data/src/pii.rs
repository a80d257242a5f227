//! Columns that must not leak (`data.pii`): before training, each value of a personal column
//! is replaced by a pseudonym (its index among the column's distinct values, with its layout
//! for phone numbers and free text), so that neither the model nor the checkpoint holds a
//! real value; when rows are written, each pseudonym becomes a plausible fake of the
//! column's kind from the `fake` crate's word lists. Likely personal columns that are not
//! declared are reported in the log ([`warn_undeclared`]).

use crate::infer::check_override_names;
use crate::{ColumnOverrides, DataError, Result};
use fake::Fake;
use fake::faker::address::en::{BuildingNumber, StreetName};
use fake::faker::internet::en::SafeEmail;
use fake::faker::name::en::{FirstName, LastName, Name};
use polars::prelude::*;
use rand::RngExt;
use std::collections::HashMap;
use synth_core::seed::{SeededRng, derive_seed, seeded_rng};
use synth_core::{Pii, PiiKind, TableMeta};

/// A share of the values at least this large decides what a column's values look like.
const CONTENT_SHARE: f64 = 0.9;

/// Words in a column's name that say it holds personal data, with the kind of fake they
/// call for.
const PERSONAL_WORDS: &[(&str, PiiKind)] = &[
    ("email", PiiKind::Email),
    ("mail", PiiKind::Email),
    ("phone", PiiKind::Phone),
    ("mobile", PiiKind::Phone),
    ("tel", PiiKind::Phone),
    ("telephone", PiiKind::Phone),
    ("fax", PiiKind::Phone),
    ("firstname", PiiKind::FirstName),
    ("forename", PiiKind::FirstName),
    ("given", PiiKind::FirstName),
    ("lastname", PiiKind::LastName),
    ("surname", PiiKind::LastName),
    ("family", PiiKind::LastName),
    ("address", PiiKind::Address),
    ("street", PiiKind::Address),
    ("name", PiiKind::Name),
    ("fullname", PiiKind::Name),
    ("ssn", PiiKind::Text),
    ("passport", PiiKind::Text),
    ("iban", PiiKind::Text),
    ("username", PiiKind::Text),
    ("login", PiiKind::Text),
];

/// The lower-case words of a column name (`customerFirst_name` -> customer, first, name),
/// with adjacent pairs joined (`first name` also gives `firstname`).
fn name_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            words.push(std::mem::take(&mut current));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase();
        current.extend(c.to_lowercase());
    }
    words.push(current);
    words.retain(|w| !w.is_empty());
    let pairs: Vec<String> = words.windows(2).map(|w| w.concat()).collect();
    words.extend(pairs);
    words
}

/// What a column's name says it holds, if anything personal.
fn kind_by_name(name: &str) -> Option<PiiKind> {
    let words = name_words(name);
    PERSONAL_WORDS
        .iter()
        .find(|(word, _)| words.iter().any(|w| w == word))
        .map(|(_, kind)| *kind)
}

fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !value.chars().any(char::is_whitespace)
        && domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
        })
}

/// A date written with digits and `-` or `.` (`2024-05-01`, `01.05.2024`), which has as
/// many digits as a short phone number.
fn looks_like_date(value: &str) -> bool {
    ["%Y-%m-%d", "%d-%m-%Y", "%Y.%m.%d", "%d.%m.%Y"]
        .iter()
        .any(|format| {
            value.is_char_boundary(10)
                && chrono::NaiveDate::parse_from_str(&value[..10], format).is_ok()
        })
}

fn looks_like_phone(value: &str) -> bool {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    !looks_like_date(value)
        && (7..=15).contains(&digits)
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// Two to four words, each a capital letter then lower-case letters (`Ada Lovelace`).
fn looks_like_person(value: &str) -> bool {
    let words: Vec<&str> = value.split_whitespace().collect();
    (2..=4).contains(&words.len())
        && words.iter().all(|w| {
            let mut chars = w.chars();
            chars.next().is_some_and(char::is_uppercase)
                && chars.all(|c| c.is_lowercase() || c == '\'' || c == '-')
        })
}

/// What a text column's values look like, when most of them look alike.
fn kind_by_content(values: &[&str]) -> Option<PiiKind> {
    if values.is_empty() {
        return None;
    }
    let share = |test: fn(&str) -> bool| {
        values.iter().filter(|v| test(v)).count() as f64 / values.len() as f64
    };
    if share(looks_like_email) >= CONTENT_SHARE {
        Some(PiiKind::Email)
    } else if share(looks_like_phone) >= CONTENT_SHARE {
        Some(PiiKind::Phone)
    } else if share(looks_like_person) >= CONTENT_SHARE {
        Some(PiiKind::Name)
    } else {
        None
    }
}

/// The present values of a text column.
fn text_values(column: &Column) -> Result<Vec<&str>> {
    let text = column
        .str()
        .map_err(crate::DataError::reading(column.name().as_str()))?;
    Ok(text.iter().flatten().collect())
}

/// Logs a warning for each column that looks personal (by its name, or by values that look
/// like email addresses, phone numbers or people's names) but is in neither `pii` nor
/// `not_pii`, unless its values are unique (it is then a key, regenerated without them).
pub fn warn_undeclared(df: &DataFrame, pii: &[String], not_pii: &[String]) -> Result<()> {
    for column in df.columns() {
        let name = column.name().as_str();
        if pii.iter().chain(not_pii).any(|c| c == name) || column.dtype() != &DataType::String {
            continue;
        }
        let values = text_values(column)?;
        let reason = match (kind_by_name(name), kind_by_content(&values)) {
            (_, Some(kind)) => format!("its values look like {}s", kind.name().replace('_', " ")),
            (Some(kind), None) => format!("its name says {}", kind.name().replace('_', " ")),
            (None, None) => continue,
        };
        let distinct = values
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
        if distinct == values.len() {
            continue;
        }
        tracing::warn!(
            column = name,
            "column `{name}` looks personal ({reason}) and its values repeat, so the model would learn and replay them: list it in data.pii to replace them with fakes, or in data.not_pii if it is not personal"
        );
    }
    Ok(())
}

/// How the personal columns of `df` (all in it) are written out: each column in `pii` (text
/// columns only) with its kind, from its name or else its values (`Text` when neither says).
pub fn pii_columns(
    df: &DataFrame,
    pii: &[String],
    consistent: bool,
    seed: u64,
) -> Result<Vec<(String, Pii)>> {
    pii.iter()
        .enumerate()
        .map(|(i, name)| {
            let column = df.column(name).map_err(DataError::reading(name))?;
            if column.dtype() != &DataType::String {
                return Err(DataError::BadFormat {
                    column: name.clone(),
                    reason: format!(
                        "data.pii replaces text with fakes, and this column holds {} values; leave it out of the model with data.ignore instead",
                        column.dtype()
                    ),
                });
            }
            let kind = kind_by_name(name)
                .or_else(|| kind_by_content(&text_values(column).unwrap_or_default()))
                .unwrap_or(PiiKind::Text);
            tracing::info!(column = %name, kind = kind.name(), "personal column: its values are replaced by pseudonyms for training and by fakes in the output");
            Ok((
                name.clone(),
                Pii {
                    kind,
                    consistent,
                    salt: derive_seed(seed, "pii", i as u64),
                },
            ))
        })
        .collect()
}

/// Prepares a training table's personal columns: warns of undeclared ones, replaces each
/// `overrides.pii` column of `df` by its pseudonyms, and returns how each is written out
/// (give it to [`mark_pii`] once the columns are described).
pub fn pseudonymise_table(
    df: &mut DataFrame,
    overrides: &ColumnOverrides,
    seed: u64,
) -> Result<Vec<(String, Pii)>> {
    // the overrides' column names and conflicts, before any value is replaced
    check_override_names(df, overrides)?;
    warn_undeclared(df, &overrides.pii, &overrides.not_pii)?;
    let columns = pii_columns(df, &overrides.pii, overrides.pii_consistent, seed)?;
    for (name, pii) in &columns {
        let column = df.column(name).map_err(DataError::reading(name))?;
        let tokens = pseudonymise(column, pii, overrides.max_categories)?;
        df.replace(name, tokens).map_err(DataError::reading(name))?;
    }
    Ok(columns)
}

/// Records in `meta` how its personal columns are written out.
pub fn mark_pii(meta: &mut TableMeta, columns: &[(String, Pii)]) {
    for (name, pii) in columns {
        if let Some(column) = meta.columns.iter_mut().find(|c| &c.name == name) {
            column.pii = Some(*pii);
        }
    }
}

/// The layout of a value: letters as `A` or `a`, digits as `9`, anything else as it is.
fn layout(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                '9'
            } else if c.is_uppercase() {
                'A'
            } else if c.is_alphabetic() {
                'a'
            } else {
                c
            }
        })
        .collect()
}

/// `column` with each value replaced by its pseudonym: the index of the value among the
/// column's distinct values (in order of appearance; hashed into at most `max_distinct`
/// indices when there are more), followed for phone numbers and free text by `|` and the
/// layout of the first value with that index. Missing values stay missing.
pub fn pseudonymise(column: &Column, pii: &Pii, max_distinct: usize) -> Result<Column> {
    let name = column.name().as_str();
    let values: Vec<Option<&str>> = column
        .str()
        .map_err(DataError::reading(name))?
        .iter()
        .collect();
    let distinct: std::collections::HashSet<&str> = values.iter().flatten().copied().collect();
    let hashed = distinct.len() > max_distinct;
    if hashed {
        tracing::warn!(
            column = name,
            distinct = distinct.len(),
            max_distinct,
            "personal column with more distinct values than data.max_categories: values share pseudonyms (and so fakes) by a hash of the value"
        );
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut layouts: HashMap<usize, String> = HashMap::new();
    let with_layout = matches!(pii.kind, PiiKind::Phone | PiiKind::Text);
    let tokens: Vec<Option<String>> = values
        .iter()
        .map(|value| {
            value.map(|v| {
                let next = index.len();
                let i = *index.entry(v).or_insert_with(|| {
                    if hashed {
                        (derive_seed(pii.salt, v, 0) % max_distinct as u64) as usize
                    } else {
                        next
                    }
                });
                if with_layout {
                    let shape = layouts.entry(i).or_insert_with(|| layout(v));
                    format!("{i}|{shape}")
                } else {
                    i.to_string()
                }
            })
        })
        .collect();
    Ok(Column::new(name.into(), tokens))
}

/// A fake for one pseudonym.
fn fake_value(kind: PiiKind, token: &str, rng: &mut SeededRng) -> String {
    match kind {
        PiiKind::Name => Name().fake_with_rng(rng),
        PiiKind::FirstName => FirstName().fake_with_rng(rng),
        PiiKind::LastName => LastName().fake_with_rng(rng),
        PiiKind::Email => SafeEmail().fake_with_rng(rng),
        PiiKind::Address => {
            let number: String = BuildingNumber().fake_with_rng(rng);
            let street: String = StreetName().fake_with_rng(rng);
            format!("{number} {street}")
        }
        PiiKind::Phone | PiiKind::Text => {
            let shape = token.split_once('|').map_or(token, |(_, shape)| shape);
            shape
                .chars()
                .map(|c| match c {
                    '9' => char::from(b'0' + rng.random_range(0..10u8)),
                    'A' => char::from(b'A' + rng.random_range(0..26u8)),
                    'a' => char::from(b'a' + rng.random_range(0..26u8)),
                    other => other,
                })
                .collect()
        }
    }
}

/// The output column of a personal column: each pseudonym in `tokens` (rows `first_row..`
/// of the output) as a fake, the same fake for the same pseudonym when `pii.consistent`.
pub fn fakes(tokens: &Series, pii: &Pii, first_row: u64) -> PolarsResult<Series> {
    let text = tokens.str()?;
    let mut cache: HashMap<&str, String> = HashMap::new();
    let values: Vec<Option<String>> = text
        .iter()
        .enumerate()
        .map(|(r, token)| {
            token.map(|token| {
                if pii.consistent {
                    cache
                        .entry(token)
                        .or_insert_with(|| {
                            fake_value(
                                pii.kind,
                                token,
                                &mut seeded_rng(derive_seed(pii.salt, token, 0)),
                            )
                        })
                        .clone()
                } else {
                    let row = first_row + r as u64;
                    fake_value(
                        pii.kind,
                        token,
                        &mut seeded_rng(derive_seed(pii.salt, token, row + 1)),
                    )
                }
            })
        })
        .collect();
    Ok(Series::new(tokens.name().clone(), values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pii(kind: PiiKind, consistent: bool) -> Pii {
        Pii {
            kind,
            consistent,
            salt: 11,
        }
    }

    #[test]
    fn personal_columns_are_told_by_name_and_content() {
        assert_eq!(kind_by_name("customer_email"), Some(PiiKind::Email));
        assert_eq!(kind_by_name("First Name"), Some(PiiKind::FirstName));
        assert_eq!(kind_by_name("lastName"), Some(PiiKind::LastName));
        assert_eq!(kind_by_name("home_address"), Some(PiiKind::Address));
        assert_eq!(kind_by_name("name"), Some(PiiKind::Name));
        for innocent in [
            "hostname_count",
            "telemetry",
            "timestamp",
            "amount",
            "username_length_x",
        ] {
            // `hostname` and `telemetry` hold no personal word; the last does (username)
            assert_eq!(
                kind_by_name(innocent).is_some(),
                innocent.starts_with("username"),
                "{innocent}"
            );
        }
        assert_eq!(
            kind_by_content(&["a@b.org", "x.y@mail.example.com"]),
            Some(PiiKind::Email)
        );
        assert_eq!(
            kind_by_content(&["+49 30 1234567", "(030) 555-0101"]),
            Some(PiiKind::Phone)
        );
        assert_eq!(
            kind_by_content(&["Ada Lovelace", "Grace Brewster Hopper"]),
            Some(PiiKind::Name)
        );
        assert_eq!(kind_by_content(&["red", "green"]), None);
        assert_eq!(kind_by_content(&["2024-05-01", "01.05.2024"]), None);
        assert_eq!(kind_by_content(&["@x.org", "a@b.c"]), None);
    }

    #[test]
    fn pseudonyms_keep_repeats_and_layouts_but_no_value() {
        let column = Column::new(
            "who".into(),
            [Some("Ada K. 7"), Some("Bob"), None, Some("Ada K. 7")],
        );
        let tokens = pseudonymise(&column, &pii(PiiKind::Text, true), 1000).unwrap();
        let tokens: Vec<Option<&str>> = tokens.str().unwrap().iter().collect();
        assert_eq!(
            tokens,
            [Some("0|Aaa A. 9"), Some("1|Aaa"), None, Some("0|Aaa A. 9")]
        );
        // more distinct values than allowed: hashed into at most two pseudonyms
        let many = Column::new("who".into(), ["a", "b", "c", "d", "e", "a"]);
        let tokens = pseudonymise(&many, &pii(PiiKind::Name, true), 2).unwrap();
        let tokens: Vec<&str> = tokens.str().unwrap().iter().flatten().collect();
        assert!(tokens.iter().all(|t| *t == "0" || *t == "1"), "{tokens:?}");
        assert_eq!(tokens[0], tokens[5]);
    }

    #[test]
    fn fakes_are_consistent_when_asked_and_keep_the_layout() {
        let tokens = Series::new(
            "who".into(),
            [Some("0|Aaa A. 9"), Some("1|Aaa"), None, Some("0|Aaa A. 9")],
        );
        let out = fakes(&tokens, &pii(PiiKind::Text, true), 0).unwrap();
        let out: Vec<Option<&str>> = out.str().unwrap().iter().collect();
        assert_eq!(out[0], out[3]);
        assert_eq!(out[2], None);
        let first = out[0].unwrap();
        assert_eq!(layout(first), "Aaa A. 9");
        assert_ne!(first, "Ada K. 7");
        assert_eq!(layout(out[1].unwrap()), "Aaa");
        // not consistent: each row its own fake, still of the layout, and reproducible
        let fresh = fakes(&tokens, &pii(PiiKind::Text, false), 100).unwrap();
        let fresh_values: Vec<Option<&str>> = fresh.str().unwrap().iter().collect();
        assert_ne!(fresh_values[0], fresh_values[3]);
        assert_eq!(layout(fresh_values[3].unwrap()), "Aaa A. 9");
        assert_eq!(
            fresh,
            fakes(&tokens, &pii(PiiKind::Text, false), 100).unwrap()
        );
        // emails, names and addresses from the word lists
        let tokens = Series::new("x".into(), ["0", "1"]);
        let emails = fakes(&tokens, &pii(PiiKind::Email, true), 0).unwrap();
        for email in emails.str().unwrap().iter().flatten() {
            assert!(looks_like_email(email), "{email}");
        }
        let names = fakes(&tokens, &pii(PiiKind::Name, true), 0).unwrap();
        for name in names.str().unwrap().iter().flatten() {
            assert!(name.split_whitespace().count() >= 2, "{name}");
        }
        let addresses = fakes(&tokens, &pii(PiiKind::Address, true), 0).unwrap();
        for address in addresses.str().unwrap().iter().flatten() {
            assert!(
                address.starts_with(|c: char| c.is_ascii_digit()),
                "{address}"
            );
        }
    }
}
