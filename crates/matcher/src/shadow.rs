//! Shadow analysis: rules that can never fire by keyword because a higher-ranked rule
//! catches every text their keywords match.

use crate::compiled::CompiledRule;
use crate::error::Warning;
use crate::index::{KeywordIndex, KwRef};
use crate::rule::MatchMode;

/// Rules that can never fire by keyword: a higher-ranked unconditional rule catches every
/// text each of their keywords matches. Near-linear: each rule's keywords are looked up
/// in the rule set's own keyword index (exact keywords hashed, the others scanned by its
/// automaton), and the unconditional rules among the owners count.
pub(crate) fn shadowed(
    rules: &[CompiledRule],
    by_rank: &[u32],
    index: &KeywordIndex,
) -> Vec<Warning> {
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
    // The rank of the rule owning `at`, when that rule is unconditional.
    let owner = |at: KwRef| {
        let r = &rules[at.rule as usize];
        unconditional(r).then_some(r.rank)
    };
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
                covering.extend(
                    index
                        .exact_keywords(text)
                        .iter()
                        .filter_map(|&at| owner(at)),
                );
            }
            for (at, prefix, start) in index.keywords_in(text) {
                let applies = !prefix || (start == 0 && kw.mode != MatchMode::Contains);
                if applies && let Some(rank) = owner(at) {
                    covering.push(rank);
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
