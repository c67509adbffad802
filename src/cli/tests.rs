use super::*;
use clap::CommandFactory;

#[test]
fn cli_definition_is_valid() {
    Cli::command().debug_assert();
}

#[test]
fn parses_verify_and_check() {
    let c = Cli::try_parse_from([
        "moeid", "verify", "cases/", "--order", "3", "--format", "json",
    ])
    .unwrap();
    let Command::Verify {
        paths,
        analysis,
        format,
        estimate,
    } = c.command
    else {
        panic!()
    };
    assert_eq!(paths, [PathBuf::from("cases/")]);
    assert_eq!((analysis.order, format), (Some(3), Format::Json));
    assert!(!estimate);
    assert!(Cli::try_parse_from(["moeid", "verify", "x", "--order", "5"]).is_err());
    assert!(Cli::try_parse_from(["moeid", "check"]).is_err());
    let c = Cli::try_parse_from(["moeid", "check", "a.toml", "--seed", "7"]).unwrap();
    assert!(matches!(c.command, Command::Check { .. }));
    let c = Cli::try_parse_from([
        "moeid", "new", "mine", "--gate", "sigmoid", "--expert", "gelu",
    ])
    .unwrap();
    assert!(matches!(c.command, Command::New { .. }));
    assert!(Cli::try_parse_from(["moeid", "new", "mine", "--gate", "sigmod"]).is_err());
}
