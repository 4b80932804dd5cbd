//! Whatever arrives at the callback URL, the bot answers without panicking and never with
//! a 5xx (which would make WeCom re-deliver a request that can never succeed): random
//! queries and bodies, and valid envelopes around random plaintexts.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use proptest::prelude::*;
use wecom_sdk_bot::{Bot, CallbackRequest};
use wecom_sdk_crypto::CallbackCrypto;
use wecom_sdk_matcher::{Engine, Rule, RuleSet};

const TOKEN: &str = "hostileToken";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const CORP_ID: &str = "wwhostile";

fn bot() -> Bot {
    Bot::builder()
        .callback(TOKEN, AES_KEY, CORP_ID)
        .engine(Engine::new(
            RuleSet::new([Rule::new("any", "兜底").fallback().reply("收到")]).unwrap(),
        ))
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_requests_get_an_answer_below_500(query in ".{0,200}", body in proptest::collection::vec(any::<u8>(), 0..600), get in any::<bool>()) {
        let bot = bot();
        let request = if get { CallbackRequest::get(query) } else { CallbackRequest::post(query, body) };
        let answer = runtime().block_on(bot.handle(request));
        prop_assert!(answer.status < 500, "{answer:?}");
    }

    #[test]
    fn signed_envelopes_around_random_plaintexts_get_an_answer_below_500(plain in proptest::collection::vec(any::<u8>(), 0..400), xmlish in "<xml>.{0,120}</xml>") {
        let crypto = CallbackCrypto::new(TOKEN, AES_KEY, CORP_ID).unwrap();
        let bot = bot();
        let rt = runtime();
        for plaintext in [plain, xmlish.into_bytes()] {
            let enc = crypto.encrypt(&plaintext).unwrap();
            let sig = crypto.signature("1700000000", "n", &enc);
            let request = CallbackRequest::post(
                format!("msg_signature={sig}&timestamp=1700000000&nonce=n"),
                format!("<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"),
            );
            let answer = rt.block_on(bot.handle(request));
            prop_assert!(answer.status < 500, "{answer:?}");
        }
    }
}
