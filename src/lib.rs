//! The command-line tools' shared edge: logging and the parsing of flags the library takes
//! typed. The work itself is [`synth_pipeline`]'s; the binaries `synth-train`, `synth-sample`
//! and `synth-eval` parse their arguments and call it.

/// Logs to stderr through tracing; `RUST_LOG` overrides the default: `info`, without the
/// errors wgpu logs while probing OpenGL drivers it then does not use.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,wgpu_hal::gles=off".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // colours only on a terminal: logs redirected to a file stay plain text
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Parses a `column=value:share` rebalancing (the share after the last colon).
pub fn parse_rebalance(text: &str) -> Result<(String, String, f64), String> {
    let wrong = || format!("expected COLUMN=VALUE:SHARE with SHARE between 0 and 1, got `{text}`");
    let (pair, share) = text.rsplit_once(':').ok_or_else(wrong)?;
    let share: f64 = share.trim().parse().map_err(|_| wrong())?;
    if !(0.0..=1.0).contains(&share) {
        return Err(wrong());
    }
    let (column, value) = parse_condition(pair)?;
    Ok((column, value, share))
}

/// Parses a `column=value` condition.
pub fn parse_condition(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((c, v)) if !c.trim().is_empty() => Ok((c.trim().to_string(), v.to_string())),
        _ => Err(format!("expected COLUMN=VALUE, got `{text}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse() {
        assert_eq!(
            parse_condition("income=>50K").unwrap(),
            ("income".into(), ">50K".into())
        );
        assert_eq!(parse_condition("a=").unwrap(), ("a".into(), "".into()));
        assert!(parse_condition("income").is_err());
        assert!(parse_condition("=x").is_err());
        assert_eq!(
            parse_rebalance("time=12:30:0.25").unwrap(),
            ("time".into(), "12:30".into(), 0.25)
        );
        for bad in ["income=>50K", "income=>50K:1.5", "income=>50K:x", "=a:0.5"] {
            assert!(parse_rebalance(bad).is_err(), "{bad}");
        }
    }
}
