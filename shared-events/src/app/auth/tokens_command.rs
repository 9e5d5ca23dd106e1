//! `<binary> tokens create | list | revoke`: managing the API tokens every service accepts.
//!
//! A new token goes alone to standard output (`TOKEN=$(order-service tokens create ...)`), and
//! what was done to standard error; it is never printed again, and the tokens file keeps only
//! its hash.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::app::auth::api_tokens::{TokenEntry, TokenError, TokenName, TokenStore};
use crate::app::auth::role::Role;

/// `tokens create`, `list` or `revoke`.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make a token and print it, once; the tokens file keeps only its hash.
    Create {
        /// Who or what will hold it (letters, digits, `.`, `_`, `@`, `-`).
        #[arg(long, value_name = "NAME")]
        name: TokenName,
        /// What it may do: viewer (read), clerk (orders), stock (stock levels) or admin.
        #[arg(long, value_enum, value_name = "ROLE")]
        role: Role,
    },
    /// List the tokens: name, role and when each was made (never the tokens themselves).
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: every service refuses it from its next request on.
    Revoke {
        /// The token's name.
        #[arg(value_name = "NAME")]
        name: TokenName,
    },
}

/// A token as `tokens list --json` shows it.
#[derive(Serialize)]
struct Listed<'a> {
    name: &'a str,
    role: Role,
    created_at: String,
}

/// Runs `command` over the tokens file `path`: results to `out`, what was done to `report`.
pub fn run(
    command: &TokensCommand,
    path: &Path,
    out: &mut dyn Write,
    report: &mut dyn Write,
) -> anyhow::Result<()> {
    let store = TokenStore::open(path);
    match command {
        TokensCommand::Create { name, role } => {
            let token = store
                .create(name.clone(), *role)
                .context("failed to make the token")?;
            writeln!(out, "{}", token.expose_secret())?;
            writeln!(
                report,
                "made the token `{name}` ({role}), printed above: it is shown only this once, \
                 and {} keeps only its hash",
                path.display()
            )?;
        }
        TokensCommand::List { json } => {
            let tokens = store.list().context("failed to read the tokens")?;
            if *json {
                let listed: Vec<_> = tokens.iter().map(listed).collect();
                serde_json::to_writer_pretty(&mut *out, &listed)?;
                writeln!(out)?;
            } else {
                list_table(&tokens, out)?;
            }
        }
        TokensCommand::Revoke { name } => match store.revoke(name) {
            Ok(revoked) => writeln!(
                report,
                "revoked the token `{name}` ({}): every service refuses it from now on",
                revoked.role
            )?,
            // Not a token: perhaps a person the identity provider signed in to the page.
            Err(TokenError::NoSuchName(_)) if store.end_sessions_of(name)? > 0 => writeln!(
                report,
                "ended the page sessions of `{name}`, signed in through the identity provider"
            )?,
            Err(error) => return Err(error).context("failed to revoke the token"),
        },
    }
    out.flush()?;
    Ok(())
}

fn listed(entry: &TokenEntry) -> Listed<'_> {
    Listed {
        name: entry.name.as_str(),
        role: entry.role,
        created_at: entry.created_at.to_rfc3339(),
    }
}

fn list_table(tokens: &[TokenEntry], out: &mut dyn Write) -> std::io::Result<()> {
    if tokens.is_empty() {
        return writeln!(out, "no tokens");
    }
    let width = tokens
        .iter()
        .map(|entry| entry.name.as_str().len())
        .max()
        .unwrap_or(0)
        .max("NAME".len());
    writeln!(out, "{:width$}  {:6}  CREATED", "NAME", "ROLE")?;
    for entry in tokens {
        writeln!(
            out,
            "{:width$}  {:6}  {}",
            entry.name.as_str(),
            entry.role.name(),
            entry.created_at.to_rfc3339()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_words(path: &Path, words: &[&str]) -> anyhow::Result<(String, String)> {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(subcommand)]
            command: TokensCommand,
        }
        let cli = Cli::try_parse_from(std::iter::once("tokens").chain(words.iter().copied()))?;
        let (mut out, mut report) = (Vec::new(), Vec::new());
        run(&cli.command, path, &mut out, &mut report)?;
        Ok((
            String::from_utf8(out).expect("UTF-8"),
            String::from_utf8(report).expect("UTF-8"),
        ))
    }

    #[test]
    fn create_prints_the_token_once_list_never_does_revoke_removes_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tokens.json");
        let (token, report) =
            run_words(&path, &["create", "--name", "ci", "--role", "clerk"]).expect("create");
        let token = token.trim_end();
        assert!(
            token.starts_with("orders_") && !token.contains(' '),
            "{token}"
        );
        assert!(
            report.contains("`ci` (clerk)") && !report.contains(token),
            "{report}"
        );

        let (table, _) = run_words(&path, &["list"]).expect("list");
        assert!(table.contains("ci") && table.contains("clerk"), "{table}");
        let (json, _) = run_words(&path, &["list", "--json"]).expect("list --json");
        let listed: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(listed[0]["name"], "ci");
        assert_eq!(listed[0]["role"], "clerk");
        assert!(!table.contains(token) && !json.contains(token));

        run_words(&path, &["revoke", "ci"]).expect("revoke");
        assert_eq!(run_words(&path, &["list"]).expect("list").0, "no tokens\n");
        let error = run_words(&path, &["revoke", "ci"]).expect_err("gone");
        assert!(
            format!("{error:#}").contains("no token is named `ci`"),
            "{error:#}"
        );
    }

    #[test]
    fn bad_names_and_roles_are_usage_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tokens.json");
        for words in [
            &["create", "--name", "two words", "--role", "clerk"][..],
            &["create", "--name", "ci", "--role", "root"],
            &["create", "--name", "ci"],
            &["revoke"],
        ] {
            let error = run_words(&path, words).expect_err("refused");
            let error = error.downcast::<clap::Error>().expect("a usage error");
            assert_eq!(error.exit_code(), 2, "{words:?}");
        }
        assert!(!path.exists(), "nothing was written");
    }
}
