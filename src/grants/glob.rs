//! Service name globs: `*` matches any run of characters (dots included), everything else
//! matches itself. `com.amazonaws.*.logs` admits the logs service in every region.

/// Whether `name` matches `pattern`.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*`: the whole name must be the pattern
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn a_star_matches_any_run_of_characters_and_the_rest_matches_itself() {
        let logs = "com.amazonaws.*.logs";
        assert!(glob_matches(logs, "com.amazonaws.ap-northeast-1.logs"));
        assert!(glob_matches(logs, "com.amazonaws.us-east-1.logs"));
        assert!(!glob_matches(logs, "com.amazonaws.us-east-1.ssm"));
        assert!(!glob_matches(logs, "com.amazonaws.us-east-1.logs.extra"));
        assert!(!glob_matches(logs, "org.amazonaws.us-east-1.logs"));
        assert!(glob_matches("*", "anything.at.all"));
        assert!(glob_matches(
            "com.amazonaws.us-east-1.sts",
            "com.amazonaws.us-east-1.sts"
        ));
        assert!(!glob_matches(
            "com.amazonaws.us-east-1.sts",
            "com.amazonaws.us-east-1.sts2"
        ));
        assert!(glob_matches(
            "com.amazonaws.vpce.*.vpce-svc-0abc*",
            "com.amazonaws.vpce.eu-west-1.vpce-svc-0abc123"
        ));
        assert!(!glob_matches("a*b*c", "ac"));
        assert!(glob_matches("a*b*c", "abc"));
        assert!(glob_matches("a*a", "aa"));
        assert!(!glob_matches("a*a", "a"), "prefix and suffix may not overlap");
        assert!(glob_matches("**", ""));
    }
}
