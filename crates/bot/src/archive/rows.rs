//! From event records to archive rows: one `in` row per message, one `out` row per
//! answer, the texts redacted by policy, encoded in PostgreSQL's binary COPY format on
//! the thread that made the record — and back, for the spill file.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use wecom_sdk_matcher::Channel;

use crate::event_log::EventRecord;

/// How customers' and servicers' texts are stored in the archive.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Redaction {
    /// As they are.
    #[default]
    Keep,
    /// Runs of 5 or more digits (phone, ID and card numbers) become `*`s.
    MaskDigits,
    /// No text at all (the rule, variant and delivery are still stored).
    Omit,
    /// Your own policy.
    Custom(Arc<dyn Fn(&str) -> String + Send + Sync>),
}

impl std::fmt::Debug for Redaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Keep => "Keep",
            Self::MaskDigits => "MaskDigits",
            Self::Omit => "Omit",
            Self::Custom(_) => "Custom(…)",
        })
    }
}

impl Redaction {
    /// A policy of your own (e.g. a DLP service's masking).
    pub fn custom(f: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        Self::Custom(Arc::new(f))
    }

    /// `text` as stored.
    pub fn apply(&self, text: &str) -> Option<String> {
        self.apply_borrowed(text).map(Cow::into_owned)
    }

    /// `text` as stored, borrowed where the policy keeps it.
    fn apply_borrowed<'a>(&self, text: &'a str) -> Option<Cow<'a, str>> {
        match self {
            Self::Keep => Some(Cow::Borrowed(text)),
            Self::Omit => None,
            Self::Custom(f) => Some(Cow::Owned(f(text))),
            Self::MaskDigits => Some(Cow::Owned(mask_digits(text))),
        }
    }
}

/// `text` with runs of 5 or more digits as `*`s.
fn mask_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 5 {
            out.extend(run.chars().map(|_| '*'));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Records as binary COPY tuples, one after another, and the length of each record's
/// rows (a record has one or two rows — or none: a servicer's message without words).
/// What the sink's queue holds and a replay collects; [`Encoded::split_to`] hands the
/// first records to the writer as a [`Batch`] without copying them.
#[derive(Debug, Default)]
pub(crate) struct Encoded {
    bytes: BytesMut,
    lens: Vec<usize>,
}

impl Encoded {
    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.lens.len()
    }

    /// Whether it holds no record.
    pub(crate) fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// Appends one record's rows (as [`encode`] wrote them).
    pub(crate) fn push_rows(&mut self, rows: &[u8]) {
        self.bytes.extend_from_slice(rows);
        self.lens.push(rows.len());
    }

    /// Appends `record` (`false`: it cannot be encoded — a field over 2 GB).
    pub(crate) fn push(&mut self, record: &EventRecord, redaction: &Redaction) -> bool {
        let start = self.bytes.len();
        if encode(record, redaction, &mut self.bytes).is_none() {
            self.bytes.truncate(start);
            return false;
        }
        self.lens.push(self.bytes.len() - start);
        true
    }

    /// The first `n` records (all of them, if it holds fewer). The bytes stay in this
    /// buffer's allocation, which takes them back once the batch is dropped.
    pub(crate) fn split_to(&mut self, n: usize) -> Batch {
        let n = n.min(self.lens.len());
        let lens: Vec<usize> = if n == self.lens.len() {
            std::mem::take(&mut self.lens)
        } else {
            self.lens.drain(..n).collect()
        };
        let rows = self.bytes.split_to(lens.iter().sum()).freeze();
        Batch { rows, lens }
    }
}

/// Records taken for one COPY: their rows, read-only and cheap to slice.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    rows: Bytes,
    lens: Vec<usize>,
}

impl Batch {
    /// Records in it.
    pub(crate) fn len(&self) -> usize {
        self.lens.len()
    }

    /// Whether it holds no record.
    pub(crate) fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// Every record's rows, one after another.
    pub(crate) fn rows(&self) -> &Bytes {
        &self.rows
    }

    /// The records as JSON lines (the spill file's format), decoded from their rows —
    /// texts as stored, redacted — and how many records had no rows (nothing to write).
    pub(crate) fn json_lines(&self) -> (Vec<u8>, usize) {
        let mut lines = Vec::with_capacity(self.rows.len() * 2);
        let mut without_rows = 0;
        let mut at = 0;
        for len in &self.lens {
            let rows = &self.rows[at..at + len];
            at += len;
            match decode(rows).and_then(|r| serde_json::to_vec(&r).ok()) {
                Some(line) => {
                    lines.extend_from_slice(&line);
                    lines.push(b'\n');
                }
                None => without_rows += 1,
            }
        }
        (lines, without_rows)
    }
}

/// The record whose rows `rows` holds (as [`encode`] wrote them; texts as stored).
fn decode(rows: &[u8]) -> Option<EventRecord> {
    decode_rows(rows).ok().flatten()
}

/// Bytes that are not tuples [`encode`] wrote.
struct Malformed;

fn decode_rows(rows: &[u8]) -> Result<Option<EventRecord>, Malformed> {
    let mut r = Reader(rows);
    let mut record: Option<EventRecord> = None;
    while !r.0.is_empty() {
        if r.i16()? != 18 {
            return Err(Malformed);
        }
        let at_micros = r.int8()?;
        let (app, direction, channel) = (r.text()?, r.text()?, r.text()?);
        let (chat, user, msg_type) = (r.opt_text()?, r.text()?, r.text()?);
        let (event, text) = (r.opt_text()?, r.opt_text()?);
        let (rule, variant, _responder) = (r.opt_text()?, r.opt_text()?, r.opt_text()?);
        let latency = r.int8()?;
        let (delivery, outcome, key) = (r.text()?, r.text()?, r.text()?);
        let (actions, errors) = (r.text_array()?, r.text_array()?);
        let rec = record.get_or_insert_with(|| EventRecord {
            at_ms: at_micros.saturating_add(PG_EPOCH_MICROS) / 1000,
            app,
            channel: serde_json::from_value(serde_json::Value::String(channel)).unwrap_or_default(),
            user,
            chat,
            msg_type,
            event,
            text: None,
            rule,
            variant,
            reply: None,
            latency_ms: u64::try_from(latency).unwrap_or(0),
            delivery,
            outcome,
            actions,
            errors,
            key,
        });
        if direction == "in" {
            rec.text = text;
        } else {
            // An answer whose words the policy omitted is still an answer: replayed, it
            // gets its `out` row back (with an empty text).
            rec.reply = Some(text.unwrap_or_default());
        }
    }
    Ok(record)
}

/// Reads binary COPY tuples.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Malformed> {
        let (head, rest) = self.0.split_at_checked(n).ok_or(Malformed)?;
        self.0 = rest;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16, Malformed> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().map_err(|_| Malformed)?,
        ))
    }

    fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().map_err(|_| Malformed)?,
        ))
    }

    fn int8(&mut self) -> Result<i64, Malformed> {
        if self.i32()? != 8 {
            return Err(Malformed);
        }
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().map_err(|_| Malformed)?,
        ))
    }

    fn opt_text(&mut self) -> Result<Option<String>, Malformed> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        let bytes = self.take(usize::try_from(len).map_err(|_| Malformed)?)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Malformed)
    }

    fn text(&mut self) -> Result<String, Malformed> {
        self.opt_text()?.ok_or(Malformed)
    }

    fn text_array(&mut self) -> Result<Vec<String>, Malformed> {
        self.i32()?;
        let (ndim, _flags, _oid) = (self.i32()?, self.i32()?, self.i32()?);
        if ndim != 1 {
            return Err(Malformed);
        }
        let (len, _lower) = (self.i32()?, self.i32()?);
        (0..len).map(|_| self.text()).collect()
    }
}

/// The outcome of a 微信客服 servicer's message (an answer by a human).
const HUMAN_REPLY: &str = "human_reply";

/// Appends `r`'s rows — the customer's message (`in`, unless a servicer wrote it) and
/// the answer (`out`, when there is one) — as binary COPY tuples.
pub(crate) fn encode(r: &EventRecord, redaction: &Redaction, buf: &mut impl BufMut) -> Option<()> {
    let human = r.outcome == HUMAN_REPLY;
    if !human {
        let text = r.text.as_deref().and_then(|t| redaction.apply_borrowed(t));
        row(buf, r, "in", text.as_deref(), None)?;
    }
    if let Some(reply) = &r.reply {
        let who = if human { "human" } else { "bot" };
        let text = redaction.apply_borrowed(reply);
        row(buf, r, "out", text.as_deref(), Some(who))?;
    }
    Some(())
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// The type oid of `text`, the element of the `text[]` columns.
const TEXT_OID: u32 = 25;

/// One tuple: the field count, then each field's length (-1: NULL) and bytes in
/// PostgreSQL's binary form — text as UTF-8, `bigint` and `timestamptz` as big-endian
/// 8 bytes, `text[]` as `array_send` writes it — for the columns of the writer's COPY,
/// in order. Written directly rather than through `dyn ToSql`, which took five times the
/// instructions (`benches/load/archive_instructions.sh`).
fn row(
    buf: &mut impl BufMut,
    r: &EventRecord,
    direction: &str,
    text: Option<&str>,
    responder: Option<&str>,
) -> Option<()> {
    buf.put_i16(18);
    // Before 1970 is stored as 1970, as `SystemTime` would have it.
    int8(buf, r.at_ms.max(0).saturating_mul(1000) - PG_EPOCH_MICROS);
    put_text(buf, &r.app)?;
    put_text(buf, direction)?;
    put_text(buf, &channel_name(r.channel))?;
    opt_text(buf, r.chat.as_deref())?;
    put_text(buf, &r.user)?;
    put_text(buf, &r.msg_type)?;
    opt_text(buf, r.event.as_deref())?;
    opt_text(buf, text)?;
    opt_text(buf, r.rule.as_deref())?;
    opt_text(buf, r.variant.as_deref())?;
    opt_text(buf, responder)?;
    int8(buf, i64::try_from(r.latency_ms).unwrap_or(i64::MAX));
    put_text(buf, &r.delivery)?;
    put_text(buf, &r.outcome)?;
    put_text(buf, &r.key)?;
    text_array(buf, &r.actions)?;
    text_array(buf, &r.errors)
}

/// The length prefix of a field of `len` bytes (`None` past 2 GB).
fn field_len(len: usize) -> Option<i32> {
    i32::try_from(len).ok()
}

fn put_text(buf: &mut impl BufMut, s: &str) -> Option<()> {
    buf.put_i32(field_len(s.len())?);
    buf.put_slice(s.as_bytes());
    Some(())
}

fn opt_text(buf: &mut impl BufMut, s: Option<&str>) -> Option<()> {
    if let Some(s) = s {
        return put_text(buf, s);
    }
    buf.put_i32(-1);
    Some(())
}

fn int8(buf: &mut impl BufMut, v: i64) {
    buf.put_i32(8);
    buf.put_i64(v);
}

/// A `text[]` of one dimension (an empty one is a dimension of length 0, as
/// `tokio-postgres` sends it).
fn text_array(buf: &mut impl BufMut, items: &[String]) -> Option<()> {
    let body = 20 + items.iter().map(|s| 4 + s.len()).sum::<usize>();
    buf.put_i32(field_len(body)?);
    buf.put_i32(1);
    buf.put_i32(0);
    buf.put_u32(TEXT_OID);
    buf.put_i32(field_len(items.len())?);
    buf.put_i32(1);
    for item in items {
        put_text(buf, item)?;
    }
    Some(())
}

/// The channel as the event log names it (`app`, `kf`, `ai_bot`, …).
fn channel_name(channel: Channel) -> Cow<'static, str> {
    Cow::Borrowed(match channel {
        Channel::App => "app",
        Channel::AppChat => "app_chat",
        Channel::CustomerGroup => "customer_group",
        Channel::Kf => "kf",
        Channel::AiBot => "ai_bot",
        // A channel added later: as serde names it.
        other => {
            return serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .map_or(Cow::Borrowed("other"), Cow::Owned);
        }
    })
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use proptest::prelude::*;
    use tokio_postgres::types::{IsNull, ToSql, Type};

    use super::*;

    /// The column types of the writer's COPY, in order.
    const TYPES: [Type; 18] = [
        Type::TIMESTAMPTZ,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT_ARRAY,
        Type::TEXT_ARRAY,
    ];

    /// One tuple as `tokio-postgres`'s `ToSql` encodes it (what `BinaryCopyInWriter`
    /// sends): the reference for [`row`].
    fn reference(
        r: &EventRecord,
        direction: &str,
        text: Option<&str>,
        who: Option<&str>,
    ) -> Vec<u8> {
        let at = std::time::UNIX_EPOCH
            + std::time::Duration::from_millis(u64::try_from(r.at_ms).unwrap_or(0));
        let channel = serde_json::to_value(r.channel).unwrap();
        let latency = i64::try_from(r.latency_ms).unwrap_or(i64::MAX);
        let fields: [&(dyn ToSql + Sync); 18] = [
            &at,
            &r.app,
            &direction,
            &channel.as_str().unwrap(),
            &r.chat,
            &r.user,
            &r.msg_type,
            &r.event,
            &text,
            &r.rule,
            &r.variant,
            &who,
            &latency,
            &r.delivery,
            &r.outcome,
            &r.key,
            &r.actions,
            &r.errors,
        ];
        let mut buf = BytesMut::new();
        buf.put_i16(18);
        for (value, ty) in fields.iter().zip(&TYPES) {
            let at = buf.len();
            buf.put_i32(0);
            let len = match value.to_sql_checked(ty, &mut buf).unwrap() {
                IsNull::Yes => -1,
                IsNull::No => i32::try_from(buf.len() - at - 4).unwrap(),
            };
            buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        buf.to_vec()
    }

    fn record() -> impl Strategy<Value = EventRecord> {
        let text = "\\PC{0,12}";
        (
            (
                -5_000i64..4_000_000_000_000,
                text,
                proptest::option::of(text),
                proptest::option::of(text),
                proptest::option::of(text),
                proptest::option::of(text),
            ),
            (
                0u64..u64::MAX,
                proptest::collection::vec(text, 0..3),
                proptest::collection::vec(text, 0..3),
                text,
                any::<bool>(),
                prop_oneof![
                    Just("app"),
                    Just("kf"),
                    Just("ai_bot"),
                    Just("customer_group")
                ],
            ),
        )
            .prop_map(
                |(
                    (at_ms, user, chat, body, rule, reply),
                    (latency, actions, errors, key, human, channel),
                )| {
                    let mut r: EventRecord = serde_json::from_value(serde_json::json!({
                        "at_ms": at_ms, "app": "shop", "channel": channel, "user": user,
                        "msg_type": "text", "latency_ms": latency, "delivery": "passive",
                        "outcome": if human { "human_reply" } else { "answered" }, "key": key,
                    }))
                    .unwrap();
                    (r.chat, r.text, r.rule, r.reply) = (chat, body, rule, reply);
                    (r.actions, r.errors) = (actions, errors);
                    r
                },
            )
    }

    /// `record` alone in a batch.
    fn batch_of(r: &EventRecord, redaction: &Redaction) -> Batch {
        let mut encoded = Encoded::default();
        assert!(encoded.push(r, redaction));
        encoded.split_to(1)
    }

    /// The one JSON line of a batch of one record (`None`: it has no rows).
    fn line_of(batch: &Batch) -> Option<EventRecord> {
        let (lines, without_rows) = batch.json_lines();
        if without_rows == 1 {
            return None;
        }
        assert_eq!(lines.last(), Some(&b'\n'));
        Some(serde_json::from_slice(&lines).unwrap())
    }

    proptest! {
        #[test]
        fn rows_are_encoded_as_tokio_postgres_encodes_them(r in record()) {
            let batch = batch_of(&r, &Redaction::Keep);
            let mut expected = Vec::new();
            if r.outcome != HUMAN_REPLY {
                expected.extend(reference(&r, "in", r.text.as_deref(), None));
            }
            if let Some(reply) = &r.reply {
                let who = if r.outcome == HUMAN_REPLY { "human" } else { "bot" };
                expected.extend(reference(&r, "out", Some(reply), Some(who)));
            }
            prop_assert_eq!(&batch.rows()[..], &expected[..]);
            // The spill file's line is decoded from the rows (a servicer's message
            // without words has none: nothing to archive or spill).
            let Some(decoded) = line_of(&batch) else {
                prop_assert!(expected.is_empty());
                return Ok(());
            };
            let mut want = r.clone();
            want.at_ms = want.at_ms.max(0);
            if want.outcome == HUMAN_REPLY {
                want.text = None;
            }
            want.latency_ms = want.latency_ms.min(i64::MAX as u64);
            prop_assert_eq!(decoded, want);
        }

        #[test]
        fn a_batch_is_its_records_in_order(records in proptest::collection::vec(record(), 0..6), n in 0usize..8) {
            let mut encoded = Encoded::default();
            for r in &records {
                prop_assert!(encoded.push(r, &Redaction::Keep));
            }
            let first = encoded.split_to(n);
            let rest = encoded.split_to(usize::MAX);
            prop_assert_eq!(first.len(), n.min(records.len()));
            prop_assert_eq!(first.len() + rest.len(), records.len());
            let mut all = first.rows().to_vec();
            all.extend_from_slice(rest.rows());
            let mut alone = Vec::new();
            for r in &records {
                alone.extend_from_slice(batch_of(r, &Redaction::Keep).rows());
            }
            prop_assert_eq!(all, alone);
            let lines = |b: &Batch| b.json_lines();
            let ((a, a_without), (b, b_without)) = (lines(&first), lines(&rest));
            let with_rows = records.iter().filter(|r| r.outcome != HUMAN_REPLY || r.reply.is_some()).count();
            prop_assert_eq!(a_without + b_without, records.len() - with_rows);
            let count = |l: &[u8]| String::from_utf8_lossy(l).lines().count();
            prop_assert_eq!(count(&a) + count(&b), with_rows);
        }
    }

    #[test]
    fn the_spilled_line_is_redacted_as_the_rows_are() {
        let r: EventRecord = serde_json::from_value(serde_json::json!({
            "at_ms": 1, "app": "shop", "channel": "app", "user": "wmA", "msg_type": "text",
            "text": "手机 13812345678", "reply": "已记下 13812345678", "latency_ms": 1,
            "delivery": "passive", "outcome": "answered", "key": "m1",
        }))
        .unwrap();
        let batch = batch_of(&r, &Redaction::MaskDigits);
        let line = line_of(&batch).unwrap();
        assert_eq!(line.text.as_deref(), Some("手机 ***********"));
        assert_eq!(line.reply.as_deref(), Some("已记下 ***********"));
        // Read back as it is (a replay), the line gives the same rows.
        assert_eq!(batch_of(&line, &Redaction::Keep).rows(), batch.rows());
        let omitted = line_of(&batch_of(&r, &Redaction::Omit)).unwrap();
        assert_eq!(omitted.text, None);
        assert_eq!(
            omitted.reply.as_deref(),
            Some(""),
            "the answer keeps its row"
        );
    }

    #[test]
    fn digits_are_masked_from_five_on() {
        let r = Redaction::MaskDigits;
        assert_eq!(
            r.apply("手机 13812345678，订单 123").unwrap(),
            "手机 ***********，订单 123"
        );
        assert_eq!(r.apply("").unwrap(), "");
        assert_eq!(Redaction::Omit.apply("x"), None);
        assert_eq!(
            Redaction::custom(str::to_uppercase).apply("ab").unwrap(),
            "AB"
        );
        assert_eq!(
            format!("{:?}", Redaction::custom(str::to_owned)),
            "Custom(…)"
        );
    }
}
