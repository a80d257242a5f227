use super::*;
use crate::check::{date_part, tolerance};
use polars::prelude::*;
use synth_core::{ColumnKind, ColumnMeta, DType, TableMeta};

/// A booking table: nights between check-in and check-out (dates), a price, a discount and
/// its total, a city with its country, and the check-in month.
fn bookings() -> (DataFrame, TableMeta) {
    let df = df!(
        "checkin" => ["2024-01-03", "2024-02-29", "2024-12-30", "2024-07-01"],
        "checkout" => ["2024-01-05", "2024-03-02", "2025-01-02", "2024-07-02"],
        "country" => ["FR", "FR", "DE", "DE"],
        "city" => ["Paris", "Lyon", "Berlin", "Berlin"],
        "net" => [100.25, 80.5, 300.0, 99.99],
        "tax" => [10.03, 8.05, 30.0, 10.0],
        "total" => [110.28, 88.55, 330.0, 109.99],
        "month" => [1i64, 2, 12, 7],
    )
    .unwrap();
    let date = |name: &str| ColumnMeta {
        format: Some("%Y-%m-%d".into()),
        min: Some(19_700.0),
        max: Some(20_100.0),
        ..ColumnMeta::new(name, ColumnKind::Continuous, DType::Date)
    };
    let money = |name: &str| ColumnMeta {
        decimals: Some(2),
        min: Some(0.0),
        max: Some(400.0),
        ..ColumnMeta::new(name, ColumnKind::Continuous, DType::F64)
    };
    let meta = TableMeta {
        columns: vec![
            date("checkin"),
            date("checkout"),
            ColumnMeta::new("country", ColumnKind::Discrete, DType::Str),
            ColumnMeta::new("city", ColumnKind::Discrete, DType::Str),
            money("net"),
            money("tax"),
            money("total"),
            ColumnMeta::new("month", ColumnKind::Discrete, DType::I64),
        ],
    };
    (df, meta)
}

fn obeys_every_constraint(fitted: &Constraints, rows: &DataFrame) -> bool {
    fitted.violations(rows).unwrap().iter().all(Option::is_none)
}

fn parse(toml_text: &str) -> Vec<Constraint> {
    #[derive(serde::Deserialize)]
    struct Config {
        constraints: Vec<Constraint>,
    }
    let config: Config = toml::from_str(toml_text).unwrap();
    config.constraints
}

fn all_kinds() -> Vec<Constraint> {
    parse(
        r#"
        [[constraints]]
        kind = "inequality"
        low = "checkin"
        high = "checkout"
        strict = true

        [[constraints]]
        kind = "fixed_combinations"
        columns = ["country", "city"]

        [[constraints]]
        kind = "sum"
        column = "total"
        of = ["net", "tax"]

        [[constraints]]
        kind = "date_part"
        column = "month"
        of = "checkin"
        part = "month"

        [[constraints]]
        kind = "rule"
        expr = "tax <= net"
        "#,
    )
}

#[test]
fn the_model_learns_differences_combinations_and_no_computed_column() {
    let (df, meta) = bookings();
    let (fitted, model) = Constraints::fit(all_kinds(), OnViolation::Fail, &df, &meta).unwrap();
    let names: Vec<&str> = model
        .get_column_names()
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(names, ["checkin", "checkout", "country+city", "net", "tax"]);
    // checkout - checkin is 2, 2, 3 and 1 days: the model learns ln(1 + days)
    let z: Vec<f64> = model["checkout"]
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    for (z, days) in z.iter().zip([2.0f64, 2.0, 3.0, 1.0]) {
        assert!((z - days.ln_1p()).abs() < 1e-12, "{z} vs {days}");
    }
    assert_eq!(
        model["country+city"].str().unwrap().get(1),
        Some(r#"["FR","Lyon"]"#)
    );
    let learned = fitted.model();
    assert_eq!(learned.column("checkout").unwrap().dtype, DType::F64);
    assert_eq!(learned.column("checkout").unwrap().min, Some(1f64.ln_1p()));
    assert_eq!(
        learned.column("country+city").unwrap().kind,
        ColumnKind::Discrete
    );
    // and back: the same table, every constraint kept
    let restored = fitted.restore(&model).unwrap();
    assert_eq!(restored, df);
    assert!(obeys_every_constraint(&fitted, &restored));
}

#[test]
fn the_high_side_never_falls_below_the_low_side() {
    let (df, meta) = bookings();
    let (fitted, mut model) = Constraints::fit(all_kinds(), OnViolation::Fail, &df, &meta).unwrap();
    // a model that gives a negative difference, or none at all (strict: at least a day)
    model
        .replace(
            "checkout",
            Column::new("checkout".into(), [-3.0, 0.0, 0.4, 50.0]),
        )
        .unwrap();
    let restored = fitted.restore(&model).unwrap();
    let checkout: Vec<&str> = restored["checkout"]
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    // 0.4 is ln(1 + 0.49): rounded to whole days that is the same day, so a day later;
    // 50 is far past the column's max (2025-01-12, day 20_100), which then holds it
    assert_eq!(
        checkout,
        ["2024-01-04", "2024-03-01", "2024-12-31", "2025-01-12"]
    );
    assert!(obeys_every_constraint(&fitted, &restored));
}

#[test]
fn rounding_keeps_a_decimal_inequality() {
    let df = df!("low" => [1.24, 0.0], "high" => [1.3, 0.1]).unwrap();
    let meta = TableMeta {
        columns: vec![
            ColumnMeta {
                decimals: Some(2),
                ..ColumnMeta::new("low", ColumnKind::Continuous, DType::F64)
            },
            ColumnMeta {
                decimals: Some(1),
                ..ColumnMeta::new("high", ColumnKind::Continuous, DType::F64)
            },
        ],
    };
    let rules = parse("[[constraints]]\nkind = \"inequality\"\nlow = \"low\"\nhigh = \"high\"\n");
    let (fitted, mut model) = Constraints::fit(rules, OnViolation::Fail, &df, &meta).unwrap();
    model
        .replace("high", Column::new("high".into(), [0.0, 0.0]))
        .unwrap();
    let restored = fitted.restore(&model).unwrap();
    // 1.24 + 0 rounds to 1.2 at one place, below 1.24: the next step up, 1.3
    assert_eq!(
        restored["high"]
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect::<Vec<_>>(),
        [1.3, 0.0]
    );
}

#[test]
fn date_parts_match_the_calendar() {
    let leap_day = 19_782.0; // 2024-02-29, a Thursday
    assert_eq!(
        date_part(leap_day, DType::Date, DatePart::Year),
        Some(2024.0)
    );
    assert_eq!(
        date_part(leap_day, DType::Date, DatePart::Quarter),
        Some(1.0)
    );
    assert_eq!(date_part(leap_day, DType::Date, DatePart::Month), Some(2.0));
    assert_eq!(date_part(leap_day, DType::Date, DatePart::Day), Some(29.0));
    assert_eq!(
        date_part(leap_day, DType::Date, DatePart::Weekday),
        Some(4.0)
    );
    assert_eq!(
        date_part(leap_day, DType::Date, DatePart::DayOfYear),
        Some(60.0)
    );
    let at = leap_day * 86_400.0 + 13.0 * 3600.0 + 7.0 * 60.0 + 9.5;
    for (part, value) in [
        (DatePart::Hour, 13.0),
        (DatePart::Minute, 7.0),
        (DatePart::Second, 9.0),
    ] {
        assert_eq!(date_part(at, DType::DatetimeUs, part), Some(value));
        assert_eq!(date_part(at % 86_400.0, DType::Time, part), Some(value));
    }
    assert_eq!(date_part(at, DType::DatetimeMs, DatePart::Day), Some(29.0));
    assert!(tolerance(1e12, 0.0) > tolerance(1.0, 0.0));
}

#[test]
fn a_row_that_breaks_a_constraint_is_named_or_dropped() {
    let (mut df, meta) = bookings();
    // row 2 checks out before it checks in
    df.replace(
        "checkout",
        Column::new(
            "checkout".into(),
            ["2024-01-05", "2024-03-02", "2024-12-01", "2024-07-02"],
        ),
    )
    .unwrap();
    let error = Constraints::fit(all_kinds(), OnViolation::Fail, &df, &meta)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("constraints[0] (inequality checkout > checkin)"),
        "{error}"
    );
    assert!(error.contains("row 2"), "{error}");
    assert!(error.contains("checkout = \"2024-12-01\""), "{error}");
    assert!(error.contains("data.on_violation"), "{error}");
    let (_, model) = Constraints::fit(all_kinds(), OnViolation::Drop, &df, &meta).unwrap();
    assert_eq!(model.height(), 3);
    // a rule the data breaks: row 0 is the one whose tax is above its net
    let mut df = bookings().0;
    df.replace("tax", Column::new("tax".into(), [200.0, 8.05, 30.0, 10.0]))
        .unwrap();
    let rules = parse("[[constraints]]\nkind = \"rule\"\nexpr = \"tax <= net\"\n");
    let error = Constraints::fit(rules, OnViolation::Fail, &df, &meta)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("constraints[0] (rule tax <= net): row 0"),
        "{error}"
    );
}

#[test]
fn constraints_that_cannot_apply_are_refused_by_name() {
    let (df, meta) = bookings();
    let refused = |text: &str| {
        Constraints::fit(parse(text), OnViolation::Fail, &df, &meta)
            .unwrap_err()
            .to_string()
    };
    let unknown =
        refused("[[constraints]]\nkind = \"sum\"\ncolumn = \"total\"\nof = [\"net\", \"fee\"]\n");
    assert!(unknown.contains("`of` names column `fee`"), "{unknown}");
    assert!(unknown.contains("columns: checkin, checkout"), "{unknown}");
    let discrete_high =
        refused("[[constraints]]\nkind = \"inequality\"\nlow = \"net\"\nhigh = \"month\"\n");
    assert!(
        discrete_high.contains("`month` is discrete"),
        "{discrete_high}"
    );
    let mixed =
        refused("[[constraints]]\nkind = \"inequality\"\nlow = \"net\"\nhigh = \"checkout\"\n");
    assert!(
        mixed.contains("f64 values and `checkout` date values"),
        "{mixed}"
    );
    let cycle = refused(
        "[[constraints]]\nkind = \"inequality\"\nlow = \"net\"\nhigh = \"total\"\n\
         [[constraints]]\nkind = \"inequality\"\nlow = \"total\"\nhigh = \"net\"\n",
    );
    assert!(cycle.contains("depends on itself"), "{cycle}");
    let twice = refused(
        "[[constraints]]\nkind = \"inequality\"\nlow = \"net\"\nhigh = \"total\"\n\
         [[constraints]]\nkind = \"sum\"\ncolumn = \"total\"\nof = [\"net\", \"tax\"]\n",
    );
    assert!(
        twice.contains("`total` is computed by constraints[0]"),
        "{twice}"
    );
    let overlap = refused(
        "[[constraints]]\nkind = \"fixed_combinations\"\ncolumns = [\"country\", \"city\"]\n\
         [[constraints]]\nkind = \"fixed_combinations\"\ncolumns = [\"city\", \"month\"]\n",
    );
    assert!(overlap.contains("`city` is in constraints[0]"), "{overlap}");
    let gap = refused(
        "[[constraints]]\nkind = \"inequality\"\nlow = \"net\"\nhigh = \"total\"\ngap = -1.0\n",
    );
    assert!(gap.contains("gap = -1"), "{gap}");
    let syntax = refused("[[constraints]]\nkind = \"rule\"\nexpr = \"tax <=\"\n");
    assert!(syntax.contains("not a polars SQL expression"), "{syntax}");
    let column = refused("[[constraints]]\nkind = \"rule\"\nexpr = \"fee > 0\"\n");
    assert!(
        column.contains("fee") && column.contains("sees the columns checkin"),
        "{column}"
    );
    let not_bool = refused("[[constraints]]\nkind = \"rule\"\nexpr = \"net + tax\"\n");
    assert!(not_bool.contains("not true or false"), "{not_bool}");
    let time_part = refused(
        "[[constraints]]\nkind = \"date_part\"\ncolumn = \"month\"\nof = \"checkin\"\npart = \"hour\"\n",
    );
    assert!(
        time_part.contains("holds dates, which have no Hour"),
        "{time_part}"
    );
    let typo: std::result::Result<toml::Value, _> =
        toml::from_str("[[constraints]]\nkind = \"inequality\"\nlow = \"a\"\nhi = \"b\"\n");
    let typo = typo.unwrap();
    let typo = typo["constraints"][0]
        .clone()
        .try_into::<Constraint>()
        .unwrap_err()
        .to_string();
    assert!(typo.contains("hi"), "{typo}");
}

#[test]
fn fitted_constraints_survive_a_checkpoint_and_a_damaged_file_is_named() {
    let (df, meta) = bookings();
    let (fitted, _) = Constraints::fit(all_kinds(), OnViolation::Fail, &df, &meta).unwrap();
    let dir = tempfile::tempdir().unwrap();
    assert!(Constraints::load(dir.path()).unwrap().is_none());
    fitted.save(dir.path()).unwrap();
    let loaded = Constraints::load(dir.path()).unwrap().unwrap();
    assert_eq!(loaded.rules(), fitted.rules());
    assert_eq!(loaded.model(), fitted.model());
    let path = dir.path().join(CONSTRAINTS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"country+city\"", "\"city+country\"")).unwrap();
    let error = Constraints::load(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains(CONSTRAINTS_FILE) && error.contains("damaged"),
        "{error}"
    );
    std::fs::write(&path, "{").unwrap();
    assert!(Constraints::load(dir.path()).is_err());
}
