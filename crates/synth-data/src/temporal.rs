//! Dates, times and timestamps as the numbers the models learn, and back: dates as days since
//! 1970-01-01, times of day as seconds since midnight, timestamps as seconds since
//! 1970-01-01T00:00:00 (UTC for zoned ones). Native polars columns convert through their
//! physical integers; text columns parse and write with a `chrono` format.

use crate::{DataError, Result};
use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use synth_core::{ColumnMeta, DType};

/// The ISO-8601 shapes recognised in text columns, in the order they are tried. `%.f` reads
/// an optional fraction of a second and writes one only when it is not zero; `%:z` reads a
/// UTC offset (`+01:00`, `+0100`) and writes it with a colon.
const ISO_FORMATS: [&str; 10] = [
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%H:%M:%S%.f",
    "%H:%M",
];

/// What to do with a value of a date or time column that does not parse in its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnparseable {
    /// Stop with an error naming the column, row and value.
    #[default]
    Fail,
    /// Read it as a missing value (with a warning giving the count).
    Missing,
}

/// The kind of temporal value a `chrono` format describes (date and time: a timestamp; a
/// date alone: a date; a time alone: a time of day), or why it describes none.
pub fn format_dtype(format: &str) -> std::result::Result<DType, String> {
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(format!("`{format}` is not a valid chrono format"));
    }
    let sample = NaiveDate::from_ymd_opt(2001, 2, 3)
        .and_then(|d| d.and_hms_milli_opt(4, 5, 6, 789))
        .expect("a valid timestamp");
    let mut text = String::new();
    if has_offset(format) {
        write!(text, "{}", sample.and_utc().format(format))
    } else {
        write!(text, "{}", sample.format(format))
    }
    .map_err(|_| format!("`{format}` cannot be written"))?;
    let instant = has_offset(format) && DateTime::parse_from_str(&text, format).is_ok();
    if instant || NaiveDateTime::parse_from_str(&text, format).is_ok() {
        Ok(DType::DatetimeUs)
    } else if NaiveDate::parse_from_str(&text, format).is_ok() {
        Ok(DType::Date)
    } else if NaiveTime::parse_from_str(&text, format).is_ok() {
        Ok(DType::Time)
    } else {
        Err(format!(
            "`{format}` does not describe a date, a time or a timestamp (e.g. %Y-%m-%d, %H:%M:%S, %d/%m/%Y %H:%M)"
        ))
    }
}

/// Whether a `chrono` format writes a UTC offset (`%z`, `%:z`, ...): its timestamps are
/// instants, written in the column's offset ([`offset_of`]).
pub fn has_offset(format: &str) -> bool {
    ["%z", "%:z", "%::z", "%:::z", "%#z"]
        .iter()
        .any(|spec| format.contains(spec))
}

/// The UTC offset (`+01:00`) of a timestamp written in `format` with an offset, if it parses.
pub fn offset_of(text: &str, format: &str) -> Option<String> {
    DateTime::parse_from_str(text.trim(), format)
        .ok()
        .map(|t| t.offset().to_string())
}

/// The model value of `text` in `format` (of the temporal `dtype`), if it parses.
pub fn parse_text(text: &str, format: &str, dtype: DType) -> Option<f64> {
    let text = text.trim();
    if dtype.is_temporal() && !matches!(dtype, DType::Date | DType::Time) && has_offset(format) {
        return DateTime::parse_from_str(text, format)
            .ok()
            .map(|t| t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) * 1e-9);
    }
    match dtype {
        DType::Date => NaiveDate::parse_from_str(text, format)
            .ok()
            .map(|d| f64::from(d.to_epoch_days())),
        DType::Time => NaiveTime::parse_from_str(text, format)
            .ok()
            .map(|t| f64::from(t.num_seconds_from_midnight()) + f64::from(t.nanosecond()) * 1e-9),
        _ => NaiveDateTime::parse_from_str(text, format).ok().map(|t| {
            let t = t.and_utc();
            t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) * 1e-9
        }),
    }
}

/// `value` (a model value of the temporal `dtype`) written in `format`, a timestamp at the
/// UTC offset `offset` (`+01:00`; UTC when `None`) if the format writes one; `None` when it
/// is outside the dates `chrono` represents.
pub fn format_value(
    value: f64,
    format: &str,
    dtype: DType,
    offset: Option<&str>,
) -> Option<String> {
    let mut text = String::new();
    let written = match dtype {
        DType::Date => NaiveDate::from_epoch_days(value.round() as i32)
            .map(|d| write!(text, "{}", d.format(format))),
        DType::Time => {
            let (secs, nanos) = split_seconds(value.rem_euclid(86_400.0));
            NaiveTime::from_num_seconds_from_midnight_opt(secs as u32, nanos)
                .map(|t| write!(text, "{}", t.format(format)))
        }
        _ => {
            let (secs, nanos) = split_seconds(value);
            DateTime::from_timestamp(secs, nanos).map(|t| {
                if has_offset(format) {
                    let offset = offset
                        .and_then(|o| o.parse::<FixedOffset>().ok())
                        .unwrap_or(FixedOffset::east_opt(0).expect("UTC"));
                    write!(text, "{}", t.with_timezone(&offset).format(format))
                } else {
                    write!(text, "{}", t.naive_utc().format(format))
                }
            })
        }
    };
    written.and_then(|w| w.ok()).map(|_| text)
}

/// Whole seconds and nanoseconds of `seconds`, the nanoseconds rounded.
fn split_seconds(seconds: f64) -> (i64, u32) {
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9).round() as u32;
    if nanos >= 1_000_000_000 {
        (whole as i64 + 1, 0)
    } else {
        (whole as i64, nanos)
    }
}

/// The ISO-8601 format every non-null value of a text column is written in, if there is one.
/// When more than half of the values match a format but some do not, it is returned with
/// the first row that does not (`Err`), so that the caller can report it.
pub fn detect_iso_format(
    values: &StringChunked,
) -> std::result::Result<Option<(&'static str, DType)>, (&'static str, usize)> {
    let Some(first) = values.iter().flatten().next() else {
        return Ok(None);
    };
    for format in ISO_FORMATS {
        let dtype = format_dtype(format).expect("the ISO formats are valid");
        if parse_text(first, format, dtype).is_none() {
            continue;
        }
        let present = values.len() - values.null_count();
        let mut failures = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some_and(|v| parse_text(v, format, dtype).is_none()));
        let Some((row, _)) = failures.next() else {
            return Ok(Some((format, dtype)));
        };
        if 2 * (failures.count() + 1) < present {
            return Err((format, row));
        }
    }
    Ok(None)
}

/// The temporal synth type of a native polars column, with its time zone.
pub fn native_dtype(dtype: &DataType) -> Option<(DType, Option<String>)> {
    Some(match dtype {
        DataType::Date => (DType::Date, None),
        DataType::Time => (DType::Time, None),
        DataType::Datetime(unit, zone) => (
            match unit {
                TimeUnit::Milliseconds => DType::DatetimeMs,
                TimeUnit::Microseconds => DType::DatetimeUs,
                TimeUnit::Nanoseconds => DType::DatetimeNs,
            },
            zone.as_ref().map(|z| z.to_string()),
        ),
        _ => return None,
    })
}

/// Units of a temporal type's physical integer per model unit (day, or second).
fn physical_scale(dtype: DType) -> f64 {
    match dtype {
        DType::Date => 1.0,
        DType::DatetimeMs => 1e3,
        DType::DatetimeUs => 1e6,
        DType::DatetimeNs | DType::Time => 1e9,
        _ => unreachable!("physical_scale of a non-temporal type"),
    }
}

/// The polars type of the column `meta` describes: text for dates and times read from text,
/// timestamps with their time zone.
pub fn column_dtype(meta: &ColumnMeta) -> PolarsResult<DataType> {
    if meta.format.is_some() {
        return Ok(DataType::String);
    }
    let zone = TimeZone::opt_try_new(meta.time_zone.as_deref())?;
    Ok(match crate::polars_dtype(meta.dtype) {
        DataType::Datetime(unit, _) => DataType::Datetime(unit, zone),
        other => other,
    })
}

/// The model values of a temporal column (native, or text in `meta.format`), `None` for
/// missing values and, with [`OnUnparseable::Missing`], for values that do not parse
/// (without a warning: inference reports them once).
pub fn temporal_values(
    column: &Column,
    meta: &ColumnMeta,
    on_unparseable: OnUnparseable,
) -> Result<Vec<Option<f64>>> {
    let Some(format) = &meta.format else {
        let scale = physical_scale(meta.dtype);
        let physical = column
            .to_physical_repr()
            .cast(&DataType::Float64)
            .map_err(DataError::reading(&meta.name))?;
        return Ok(physical
            .f64()
            .map_err(DataError::reading(&meta.name))?
            .iter()
            .map(|v| v.map(|x| x / scale))
            .collect());
    };
    let text = column.str().map_err(DataError::reading(&meta.name))?;
    let mut values = Vec::with_capacity(text.len());
    for (row, value) in text.iter().enumerate() {
        values.push(match value {
            None => None,
            Some(v) => match parse_text(v, format, meta.dtype) {
                Some(x) => Some(x),
                None if on_unparseable == OnUnparseable::Missing => None,
                None => {
                    return Err(DataError::Unparseable {
                        column: meta.name.clone(),
                        row,
                        value: v.to_string(),
                        format: format.clone(),
                    });
                }
            },
        });
    }
    Ok(values)
}

/// A temporal column of `meta`'s type (native, or text in its format) holding `values`.
pub fn temporal_column(meta: &ColumnMeta, values: &[Option<f64>]) -> PolarsResult<Series> {
    let name = meta.name.as_str().into();
    if let Some(format) = &meta.format {
        let text: Vec<Option<String>> = values
            .iter()
            .map(|v| v.and_then(|x| format_value(x, format, meta.dtype, meta.time_zone.as_deref())))
            .collect();
        return Ok(Series::new(name, text));
    }
    let scale = physical_scale(meta.dtype);
    let physical = values.iter().map(|v| v.map(|x| (x * scale).round()));
    Ok(match column_dtype(meta)? {
        DataType::Date => {
            Int32Chunked::from_iter_options(name, physical.map(|v| v.map(|x| x as i32)))
                .into_date()
                .into_series()
        }
        DataType::Time => {
            Int64Chunked::from_iter_options(name, physical.map(|v| v.map(|x| x as i64)))
                .into_time()
                .into_series()
        }
        DataType::Datetime(unit, zone) => {
            Int64Chunked::from_iter_options(name, physical.map(|v| v.map(|x| x as i64)))
                .into_datetime(unit, zone)
                .into_series()
        }
        other => {
            polars_bail!(ComputeError: "column `{}` of type {other} is not a date or time", meta.name)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_name_their_kind() {
        assert_eq!(format_dtype("%Y-%m-%d"), Ok(DType::Date));
        assert_eq!(format_dtype("%d/%m/%Y %H:%M"), Ok(DType::DatetimeUs));
        assert_eq!(format_dtype("%H:%M:%S"), Ok(DType::Time));
        assert!(
            format_dtype("%Y-%m-%d %Q")
                .unwrap_err()
                .contains("not a valid")
        );
        assert!(
            format_dtype("%Y")
                .unwrap_err()
                .contains("does not describe")
        );
    }

    /// Timestamps with UTC offsets are read as instants and written at the column's offset,
    /// whether the data writes it with a colon or, as polars does, without.
    #[test]
    fn offsets_are_read_as_instants_and_written_back() {
        let format = "%Y-%m-%dT%H:%M:%S%.f%:z";
        assert!(has_offset(format) && !has_offset("%Y-%m-%d %H:%M"));
        assert_eq!(format_dtype(format), Ok(DType::DatetimeUs));
        let instant = 1_709_284_500.0; // 2024-03-01T09:15:00Z
        for text in [
            "2024-03-01T10:15:00+01:00",
            "2024-03-01T10:15:00.000+0100",
            "2024-03-01T04:15:00-05:00",
        ] {
            assert_eq!(
                parse_text(text, format, DType::DatetimeUs),
                Some(instant),
                "{text}"
            );
        }
        assert_eq!(
            offset_of("2024-03-01T10:15:00+01:00", format).as_deref(),
            Some("+01:00")
        );
        assert_eq!(
            format_value(instant, format, DType::DatetimeUs, Some("+01:00")).as_deref(),
            Some("2024-03-01T10:15:00+01:00")
        );
        assert_eq!(
            format_value(instant, format, DType::DatetimeMs, None).as_deref(),
            Some("2024-03-01T09:15:00+00:00")
        );
        let column: StringChunked = ["2024-03-01 10:15:00+01:00", "2024-07-01 10:15:00+02:00"]
            .into_iter()
            .map(Some)
            .collect();
        assert_eq!(
            detect_iso_format(&column),
            Ok(Some(("%Y-%m-%d %H:%M:%S%.f%:z", DType::DatetimeUs)))
        );
    }

    /// Hand-computed model values, and text written back exactly as read.
    #[test]
    fn text_round_trips_by_hand() {
        let cases = [
            ("1970-01-02", "%Y-%m-%d", DType::Date, 1.0),
            ("2000-03-01", "%Y-%m-%d", DType::Date, 11_017.0),
            ("1969-12-31", "%Y-%m-%d", DType::Date, -1.0),
            ("01:00:30", "%H:%M:%S%.f", DType::Time, 3630.0),
            ("00:00:01.250", "%H:%M:%S%.f", DType::Time, 1.25),
            (
                "1970-01-01T00:01:00",
                "%Y-%m-%dT%H:%M:%S%.f",
                DType::DatetimeUs,
                60.0,
            ),
            (
                "2024-02-29 12:00",
                "%Y-%m-%d %H:%M",
                DType::DatetimeUs,
                1_709_208_000.0,
            ),
            ("31/12/1999", "%d/%m/%Y", DType::Date, 10_956.0),
        ];
        for (text, format, dtype, value) in cases {
            let parsed = parse_text(text, format, dtype).unwrap();
            assert!((parsed - value).abs() < 1e-6, "{text}: {parsed} != {value}");
            assert_eq!(
                format_value(value, format, dtype, None).as_deref(),
                Some(text)
            );
        }
        assert_eq!(parse_text("2024-02-30", "%Y-%m-%d", DType::Date), None);
        assert_eq!(parse_text("soon", "%H:%M", DType::Time), None);
    }

    #[test]
    fn iso_formats_are_detected_or_the_odd_row_named() {
        let detect = |values: &[Option<&str>]| {
            detect_iso_format(&StringChunked::from_iter_options(
                "x".into(),
                values.iter().copied(),
            ))
        };
        assert_eq!(
            detect(&[Some("2024-01-02"), None, Some("2023-12-31")]),
            Ok(Some(("%Y-%m-%d", DType::Date)))
        );
        assert_eq!(
            detect(&[Some("2024-01-02T10:00:00Z"), Some("2024-01-02T11:30:00.5Z")]),
            Ok(Some(("%Y-%m-%dT%H:%M:%S%.fZ", DType::DatetimeUs)))
        );
        assert_eq!(
            detect(&[Some("08:15"), Some("23:59")]),
            Ok(Some(("%H:%M", DType::Time)))
        );
        assert_eq!(detect(&[Some("red"), Some("2024-01-02")]), Ok(None));
        assert_eq!(
            detect(&[Some("2024-01-02"), Some("2024-01-03"), Some("03/01/2024")]),
            Err(("%Y-%m-%d", 2))
        );
    }

    /// Native columns convert through their physical integers, and back to the same type.
    #[test]
    fn native_columns_round_trip() {
        let days = Series::new("d".into(), [Some(0i32), Some(19_000), None])
            .cast(&DataType::Date)
            .unwrap();
        let meta = |dtype, zone: Option<&str>| ColumnMeta {
            time_zone: zone.map(str::to_string),
            ..ColumnMeta::new("d", synth_core::ColumnKind::Continuous, dtype)
        };
        let date = meta(DType::Date, None);
        let values = temporal_values(&days.clone().into(), &date, OnUnparseable::Fail).unwrap();
        assert_eq!(values, [Some(0.0), Some(19_000.0), None]);
        assert_eq!(temporal_column(&date, &values).unwrap(), days);
        let stamps = Int64Chunked::from_slice("d".into(), &[1_500, -2_000])
            .into_datetime(
                TimeUnit::Milliseconds,
                TimeZone::opt_try_new(Some("Europe/Paris")).unwrap(),
            )
            .into_series();
        let (dtype, zone) = native_dtype(stamps.dtype()).unwrap();
        assert_eq!(
            (dtype, zone.as_deref()),
            (DType::DatetimeMs, Some("Europe/Paris"))
        );
        let stamp = meta(dtype, zone.as_deref());
        let values = temporal_values(&stamps.clone().into(), &stamp, OnUnparseable::Fail).unwrap();
        assert_eq!(values, [Some(1.5), Some(-2.0)]);
        assert_eq!(temporal_column(&stamp, &values).unwrap(), stamps);
    }

    #[test]
    fn unparseable_text_is_an_error_or_missing() {
        let meta = ColumnMeta {
            format: Some("%Y-%m-%d".into()),
            ..ColumnMeta::new("when", synth_core::ColumnKind::Continuous, DType::Date)
        };
        let column = Column::new("when".into(), [Some("1970-01-03"), Some("later"), None]);
        let err = temporal_values(&column, &meta, OnUnparseable::Fail).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("`when`") && message.contains("row 1") && message.contains("later"),
            "{message}"
        );
        assert_eq!(
            temporal_values(&column, &meta, OnUnparseable::Missing).unwrap(),
            [Some(2.0), None, None]
        );
    }
}
