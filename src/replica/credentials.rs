//! Where the S3 client's credentials, region and endpoint come from: the usual `AWS_*`
//! environment variables first, then the profile files (`~/.aws/credentials` and
//! `~/.aws/config`, or the files `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` name) for
//! the profile `AWS_PROFILE` (default `default`). Never the command line, and the secret is
//! never printed: [`Settings`]'s `Debug` hides it.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the client needs to reach a bucket.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `AWS_ACCESS_KEY_ID`, or `aws_access_key_id` of the profile.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`, or `aws_secret_access_key` of the profile.
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`, or `aws_session_token` of the profile.
    pub session_token: Option<String>,
    /// `AWS_REGION`, `AWS_DEFAULT_REGION`, or `region` of the profile (default `us-east-1`).
    pub region: Option<String>,
    /// `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, or `endpoint_url` of the profile (default AWS).
    pub endpoint: Option<String>,
    /// `AWS_ALLOW_HTTP=true`: plain `http://` endpoints are allowed.
    pub allow_http: bool,
    /// `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`: `bucket.host` addressing instead of `host/bucket`.
    pub virtual_hosted_style: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<hidden>"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<hidden>"),
            )
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .finish()
    }
}

/// A profile file larger than this is refused (they are a few hundred bytes).
const MAX_PROFILE_FILE: u64 = 1024 * 1024;

impl Settings {
    /// The settings of this process: its environment, then its profile files.
    pub fn from_environment() -> Result<Settings> {
        Self::resolve(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// The settings of the profile `name` alone (the files the environment names, or
    /// `~/.aws/`): the credential, region and endpoint variables are not read, so that each
    /// replica of an audit can have its own. `AWS_ALLOW_HTTP` still applies.
    pub fn from_profile(name: &str) -> Result<Settings> {
        const KEPT: [&str; 5] = [
            "HOME",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_CONFIG_FILE",
            "AWS_ALLOW_HTTP",
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
        ];
        let settings = Self::resolve(&|var| {
            if var == "AWS_PROFILE" {
                return Some(name.to_string());
            }
            KEPT.contains(&var)
                .then(|| std::env::var(var).ok().filter(|v| !v.is_empty()))
                .flatten()
        })?;
        if settings.access_key_id.is_none() {
            return Err(Error::Invalid(format!(
                "the AWS profile {name:?} has no aws_access_key_id in the credentials file"
            )));
        }
        Ok(settings)
    }

    /// The settings from the variables `var` gives, then the profile files they point to.
    pub fn resolve(var: &dyn Fn(&str) -> Option<String>) -> Result<Settings> {
        let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".to_string());
        let home = var("HOME").map(PathBuf::from);
        let in_home = |rel: &str| home.as_ref().map(|h| h.join(rel));
        let credentials = var("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| in_home(".aws/credentials"));
        let config = var("AWS_CONFIG_FILE")
            .map(PathBuf::from)
            .or_else(|| in_home(".aws/config"));
        // In the credentials file a profile is `[name]`; in the config file `[profile name]`,
        // except the default one.
        let from_credentials = read_profile(credentials.as_deref(), &profile)?;
        let config_section = if profile == "default" {
            profile.clone()
        } else {
            format!("profile {profile}")
        };
        let from_config = read_profile(config.as_deref(), &config_section)?;
        let file = |key: &str| {
            from_credentials
                .get(key)
                .or_else(|| from_config.get(key))
                .cloned()
        };
        let flag =
            |name: &str| var(name).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        Ok(Settings {
            access_key_id: var("AWS_ACCESS_KEY_ID").or_else(|| file("aws_access_key_id")),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")
                .or_else(|| file("aws_secret_access_key")),
            session_token: var("AWS_SESSION_TOKEN").or_else(|| file("aws_session_token")),
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .or_else(|| file("region")),
            endpoint: var("AWS_ENDPOINT_URL_S3")
                .or_else(|| var("AWS_ENDPOINT_URL"))
                .or_else(|| file("endpoint_url")),
            allow_http: flag("AWS_ALLOW_HTTP"),
            virtual_hosted_style: flag("AWS_VIRTUAL_HOSTED_STYLE_REQUEST"),
        })
    }

    /// The access key id shortened for messages (`GK…0001`): enough to tell keys apart.
    pub fn key_hint(&self) -> String {
        match &self.access_key_id {
            None => "no AWS_ACCESS_KEY_ID".to_string(),
            Some(id) if id.chars().count() <= 8 => format!("AWS_ACCESS_KEY_ID={id}"),
            Some(id) => {
                let head: String = id.chars().take(4).collect();
                let tail: String = id
                    .chars()
                    .rev()
                    .take(4)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!("AWS_ACCESS_KEY_ID={head}…{tail}")
            }
        }
    }
}

/// The keys of section `[section]` of an INI-style profile file; empty when the file or the
/// section is absent.
fn read_profile(path: Option<&Path>, section: &str) -> Result<BTreeMap<String, String>> {
    let Some(path) = path else {
        return Ok(BTreeMap::new());
    };
    let text = match crate::fsutil::read_regular_file(path, MAX_PROFILE_FILE) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            Error::Invalid(format!("{}: the profile file is not UTF-8", path.display()))
        })?,
        Err(_) if !path.exists() => return Ok(BTreeMap::new()),
        Err(e) => return Err(e),
    };
    Ok(parse_section(&text, section))
}

/// The `key = value` lines of one section of an INI text (comments start with `#` or `;`).
fn parse_section(text: &str, section: &str) -> BTreeMap<String, String> {
    let mut current: Option<&str> = None;
    let mut keys = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim());
            continue;
        }
        if current != Some(section) {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            keys.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn environment_wins_over_profile_files() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n\n[other]\naws_access_key_id = OTHERKEY\naws_secret_access_key = othersecret\n",
        )
        .unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            "[profile other]\nregion = eu-1\nendpoint_url = http://127.0.0.1:9\n",
        )
        .unwrap();
        let creds_s = creds.to_str().unwrap();
        let config_s = config.to_str().unwrap();
        let s = Settings::resolve(&vars(&[
            ("AWS_SHARED_CREDENTIALS_FILE", creds_s),
            ("AWS_CONFIG_FILE", config_s),
        ]))
        .unwrap();
        assert_eq!(s.access_key_id.as_deref(), Some("FILEKEY"));
        assert_eq!(s.region, None);
        let s = Settings::resolve(&vars(&[
            ("AWS_SHARED_CREDENTIALS_FILE", creds_s),
            ("AWS_CONFIG_FILE", config_s),
            ("AWS_PROFILE", "other"),
        ]))
        .unwrap();
        assert_eq!(s.access_key_id.as_deref(), Some("OTHERKEY"));
        assert_eq!(s.secret_access_key.as_deref(), Some("othersecret"));
        assert_eq!(s.region.as_deref(), Some("eu-1"));
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        let s = Settings::resolve(&vars(&[
            ("AWS_SHARED_CREDENTIALS_FILE", creds_s),
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_ALLOW_HTTP", "true"),
        ]))
        .unwrap();
        assert_eq!(s.access_key_id.as_deref(), Some("ENVKEY"));
        assert!(s.allow_http);
        assert!(!format!("{s:?}").contains("envsecret"));
    }

    #[test]
    fn missing_profile_files_are_no_error() {
        let s = Settings::resolve(&vars(&[("HOME", "/nonexistent-home")])).unwrap();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn key_hint_hides_most_of_the_key() {
        let s = Settings {
            access_key_id: Some("GKcablekeeptest0001".into()),
            ..Settings::default()
        };
        assert_eq!(s.key_hint(), "AWS_ACCESS_KEY_ID=GKca…0001");
    }
}
