//! Celery's node-name templates (`-n w1@%h`): every worker of this crate expands them the same way.

use crate::producer::local_hostname;

/// Expands `%h` (host name), `%n` (its first label), `%d` (the domain) and `%%`, as Celery's
/// `-n/--hostname` does; a name without `@` gets `@<host name>` appended, as Celery's default.
pub fn expand_nodename(template: &str) -> String {
    expand_with_host(template, &local_hostname())
}

fn expand_with_host(template: &str, host: &str) -> String {
    let (name, domain) = host.split_once('.').unwrap_or((host, ""));
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(host),
            Some('n') => out.push_str(name),
            Some('d') => out.push_str(domain),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    if out.contains('@') { out } else { format!("{out}@{host}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(expand_with_host("w1@%h", "node7.lab.example"), "w1@node7.lab.example");
        assert_eq!(expand_with_host("w1@%n", "node7.lab.example"), "w1@node7");
        assert_eq!(expand_with_host("%n-%d@x", "node7.lab.example"), "node7-lab.example@x");
        assert_eq!(expand_with_host("w1", "node7"), "w1@node7");
        assert_eq!(expand_with_host("a%%b@x", "h"), "a%b@x");
        assert_eq!(expand_with_host("trailing%", "h"), "trailing%@h");
    }
}
