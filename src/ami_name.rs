//! EC2's rules for an AMI name, in one place: what `validate` checks before rendering, what
//! the image step checks after, and what `clean_resource_name` keeps.

/// The characters EC2 accepts in an AMI name besides ASCII letters and digits.
const PUNCTUATION: &str = "()[] ./-'@_";

/// The length EC2 accepts.
pub const LENGTH: std::ops::RangeInclusive<usize> = 3..=128;

/// Packer's message for a name with other characters.
pub const CHARS_MESSAGE: &str = "AMIName should only contain alphanumeric characters, parentheses (()), square brackets ([]), spaces ( ), periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), or underscores(_). You can use the `clean_resource_name` template filter to automatically clean your ami name.";

pub fn allowed(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || PUNCTUATION.contains(ch)
}

/// A rendered name EC2 will take, or why not.
pub fn check(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if !LENGTH.contains(&n) {
        return Err(format!(
            "ami_name {name:?} must be between 3 and 128 characters long, it is {n}"
        ));
    }
    if !name.chars().all(allowed) {
        return Err(format!("ami_name {name:?}: {CHARS_MESSAGE}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert!(super::check("my-image (2024) [x] v1.0/a 'b' @c_d").is_ok());
        assert!(
            super::check("ab")
                .unwrap_err()
                .contains("between 3 and 128")
        );
        assert!(
            super::check("a:b:c")
                .unwrap_err()
                .contains("clean_resource_name")
        );
    }
}
