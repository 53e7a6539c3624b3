//! robots.txt: fetched once per host, its Disallow prefixes for cablekeep respected unless the
//! user says otherwise.

use super::checker::Checker;
use super::url::split_origin;

/// The name cablekeep looks for among robots.txt's User-agent lines.
const ROBOT_NAME: &str = "cablekeep";

impl Checker {
    /// Whether robots.txt lets cablekeep fetch `url` (always, when robots are not respected).
    /// Each host's rules are fetched once; a host without a readable robots.txt allows all.
    pub(super) fn allowed(&self, url: &str) -> bool {
        if !self.options.respect_robots {
            return true;
        }
        let (base, path) = split_origin(url);
        let cell = self
            .robots
            .lock()
            .expect("robots lock")
            .entry(base.to_string())
            .or_default()
            .clone();
        let rules = cell.get_or_init(|| {
            let (answer, _) = self.request(&format!("{base}/robots.txt"), &[]);
            match answer {
                Ok(r) if (200..300).contains(&r.status) => {
                    robots_disallows(&String::from_utf8_lossy(&r.body), ROBOT_NAME)
                }
                _ => Vec::new(),
            }
        });
        let path = if path.is_empty() { "/" } else { path };
        !rules.iter().any(|p| path.starts_with(p.as_str()))
    }
}

/// The Disallow prefixes that apply to `agent`: its own group if robots.txt has one, else `*`.
fn robots_disallows(text: &str, agent: &str) -> Vec<String> {
    let groups = robots_groups(text);
    let agent = agent.to_ascii_lowercase();
    let own = groups.iter().find(|(agents, _)| {
        agents
            .iter()
            .any(|a| a != "*" && agent.contains(a.as_str()))
    });
    let any = groups
        .iter()
        .find(|(agents, _)| agents.iter().any(|a| a == "*"));
    own.or(any).map(|g| g.1.clone()).unwrap_or_default()
}

/// robots.txt's groups: the user agents (lower case) that consecutive User-agent lines name,
/// and the Disallow prefixes that follow them.
fn robots_groups(text: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut groups: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut in_agents = false;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_string());
        match key.as_str() {
            "user-agent" => {
                if !in_agents {
                    groups.push((Vec::new(), Vec::new()));
                }
                in_agents = true;
                if let Some(g) = groups.last_mut() {
                    g.0.push(value.to_ascii_lowercase());
                }
            }
            "disallow" => {
                in_agents = false;
                if let Some(g) = groups.last_mut()
                    && !value.is_empty()
                {
                    g.1.push(value);
                }
            }
            _ => in_agents = false,
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robots_groups_and_prefixes() {
        let text = "User-agent: *\nDisallow: /private\n\nUser-agent: cablekeep\nUser-agent: other\nDisallow: /cable/\nDisallow:\n";
        assert_eq!(robots_disallows(text, "cablekeep"), vec!["/cable/"]);
        assert_eq!(robots_disallows(text, "someone"), vec!["/private"]);
        assert!(robots_disallows("", "cablekeep").is_empty());
    }
}
