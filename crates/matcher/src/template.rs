//! Reply templates: parsed once into literal and variable segments, rendered per hit.

#[cfg(test)]
use std::collections::BTreeMap;

/// A parsed template: `"您好 {nickname}"` → `[Lit("您好 "), Var("nickname")]`.
/// `{{` and `}}` write literal braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Lit(String),
    Var(String),
}

impl Template {
    /// Parses a template.
    ///
    /// # Errors
    /// An unclosed `{` or an empty or invalid variable name, as text.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut lit = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let rest = &text[i + 1..];
                    let end = rest
                        .find('}')
                        .ok_or_else(|| format!("unclosed '{{' at byte {i}"))?;
                    let name = rest[..end].trim();
                    if name.is_empty()
                        || !name
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-')
                    {
                        return Err(format!("invalid variable {{{name}}} at byte {i}"));
                    }
                    if !lit.is_empty() {
                        segments.push(Segment::Lit(std::mem::take(&mut lit)));
                    }
                    segments.push(Segment::Var(name.to_owned()));
                    for _ in 0..=end {
                        chars.next();
                    }
                }
                _ => lit.push(c),
            }
        }
        if !lit.is_empty() {
            segments.push(Segment::Lit(lit));
        }
        Ok(Self { segments })
    }

    /// The variables the template names, in order.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Var(v) => Some(v.as_str()),
            Segment::Lit(_) => None,
        })
    }

    /// Renders, asking `lookup` for each variable (so values are computed only when a
    /// template uses them); an unknown variable renders as nothing.
    pub(crate) fn render_with<'a>(
        &self,
        lookup: impl Fn(&str) -> Option<std::borrow::Cow<'a, str>>,
    ) -> String {
        // Sized for the literal text and short values: one allocation for most replies.
        let literal: usize = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Lit(l) => l.len(),
                Segment::Var(_) => 16,
            })
            .sum();
        let mut out = String::with_capacity(literal);
        for s in &self.segments {
            match s {
                Segment::Lit(l) => out.push_str(l),
                Segment::Var(v) => {
                    if let Some(value) = lookup(v) {
                        out.push_str(&value);
                    }
                }
            }
        }
        out
    }

    /// Renders with `vars`.
    #[cfg(test)]
    pub(crate) fn render(&self, vars: &BTreeMap<&str, String>) -> String {
        self.render_with(|name| vars.get(name).map(|v| std::borrow::Cow::Owned(v.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_render() {
        let t = Template::parse("您好 {nickname}，单号 {order_no} {{原样}}").expect("parses");
        let vars = BTreeMap::from([
            ("nickname", "张三".to_owned()),
            ("order_no", "SF123".to_owned()),
        ]);
        assert_eq!(t.render(&vars), "您好 张三，单号 SF123 {原样}");
        assert_eq!(t.render(&BTreeMap::new()), "您好 ，单号  {原样}");
        assert!(Template::parse("oops {name").is_err());
        assert!(Template::parse("{}").is_err());
        assert!(Template::parse("{a b}").is_err());
    }
}
