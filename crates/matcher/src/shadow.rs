//! Shadow analysis: rules that can never fire by keyword because a higher-ranked rule
//! catches every text their keywords match.

use std::collections::HashMap;

use crate::compiled::CompiledRule;
use crate::error::Warning;
use crate::rule::MatchMode;

/// Rules that can never fire by keyword: a higher-ranked unconditional rule catches every
/// text each of their keywords matches. Near-linear: the unconditional rules' keywords go
/// in a hash map (exact) and an Aho-Corasick automaton (contains, prefix) run over each
/// other rule's keywords.
pub(crate) fn shadowed(rules: &[CompiledRule], by_rank: &[u32]) -> Vec<Warning> {
    let unconditional = |r: &CompiledRule| {
        let d = &r.def;
        d.enabled
            && d.stop
            && d.schedule.is_none()
            && d.schedule_ref.is_none()
            && d.scope == crate::rule::Scope::default()
            && d.audience == crate::rule::Audience::default()
            && d.limit.is_none()
            && d.cooldown_secs.is_none()
    };
    let mut exact: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut patterns: Vec<&str> = Vec::new();
    let mut owners: Vec<(u32, bool)> = Vec::new(); // (rank, is_prefix) per pattern
    for r in rules.iter().filter(|r| unconditional(r)) {
        for (k, kw) in r.def.keywords.iter().enumerate() {
            match kw.mode {
                MatchMode::Exact => exact
                    .entry(r.keywords[k].as_str())
                    .or_default()
                    .push(r.rank),
                MatchMode::Contains | MatchMode::Prefix => {
                    patterns.push(&r.keywords[k]);
                    owners.push((r.rank, kw.mode == MatchMode::Prefix));
                }
                MatchMode::Regex => {}
            }
        }
    }
    let automaton = aho_corasick::AhoCorasick::new(&patterns).ok();
    let mut out = Vec::new();
    for &bi in by_rank {
        let b = &rules[bi as usize];
        if b.def.keywords.is_empty() || !b.def.enabled {
            continue;
        }
        // Ranks of higher-ranked unconditional rules covering every keyword so far.
        let mut common: Option<Vec<u32>> = None;
        for (k, kw) in b.def.keywords.iter().enumerate() {
            let text = b.keywords[k].as_str();
            let mut covering: Vec<u32> = Vec::new();
            if kw.mode == MatchMode::Regex {
                common = Some(Vec::new());
                break;
            }
            if kw.mode == MatchMode::Exact {
                covering.extend(exact.get(text).into_iter().flatten());
            }
            if let Some(ac) = &automaton {
                for m in ac.find_overlapping_iter(text) {
                    let (rank, prefix) = owners[m.pattern().as_usize()];
                    let applies = !prefix || (m.start() == 0 && kw.mode != MatchMode::Contains);
                    if applies {
                        covering.push(rank);
                    }
                }
            }
            covering.retain(|&rank| rank < b.rank);
            common = Some(match common {
                None => covering,
                Some(prev) => prev.into_iter().filter(|r| covering.contains(r)).collect(),
            });
            if common.as_ref().is_some_and(Vec::is_empty) {
                break;
            }
        }
        if let Some(&rank) = common.as_ref().and_then(|c| c.iter().min()) {
            let a = &rules[by_rank[rank as usize] as usize];
            out.push(Warning {
                rule: b.def.id.clone(),
                message: format!(
                    "can never fire by keyword: rule '{}' ranks higher and catches all its keywords",
                    a.def.id
                ),
            });
        }
    }
    out
}
