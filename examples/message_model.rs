//! The message model at work: callbacks of several kinds parsed into types, a passive
//! reply written as XML, and API bodies built, validated and printed as JSON.
//!
//! Run with: `cargo run --example message_model`

use wecom_sdk::message::callback::{Body, Event, ExternalContactChange, Message};
use wecom_sdk::message::reply::Reply;
use wecom_sdk::message::send::{
    AppMessage, Button, Content, KfContent, KfMessage, Recipients, TemplateCard, WebhookMessage,
};
use wecom_sdk::message::split_text;

const CALLBACKS: [&str; 4] = [
    "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你们几点关门？]]></Content><MsgId>7300000000000000001</MsgId><AgentID>1000002</AgentID></xml>",
    "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><FromUserName><![CDATA[lisi]]></FromUserName><CreateTime>1700000001</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[click]]></Event><EventKey><![CDATA[SHOP_ADDRESS]]></EventKey><AgentID>1000002</AgentID></xml>",
    "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000002</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[wmAAAA]]></ExternalUserID><State><![CDATA[shop_qr]]></State><WelcomeCode><![CDATA[WC123]]></WelcomeCode></xml>",
    "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><FromUserName><![CDATA[wangwu]]></FromUserName><CreateTime>1700000003</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[brand_new_event]]></Event><Something><![CDATA[42]]></Something></xml>",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== callbacks in");
    for xml in CALLBACKS {
        let msg = Message::from_xml(xml)?;
        let what = match &msg.body {
            Body::Text { content } => format!("text {content:?}"),
            Body::Event(Event::Click { key }) => format!("menu click {key}"),
            Body::Event(Event::ChangeExternalContact(ExternalContactChange::Add {
                external_user_id,
                welcome_code,
                ..
            })) => {
                format!("new customer {external_user_id} (welcome code {welcome_code:?})")
            }
            Body::Event(Event::Unknown { event, raw }) => {
                format!("unknown event {event}, fields {:?}", raw.fields())
            }
            other => format!("{other:?}"),
        };
        println!(
            "{:<9} {what}\n          dedup key {}",
            msg.header.from,
            msg.dedup_key()
        );
    }

    println!("\n== passive reply out");
    let first = Message::from_xml(CALLBACKS[0])?;
    let reply = Reply::text("我们每天 21:00 关门，欢迎光临 <门店> & 线上商城！");
    reply.validate()?;
    println!(
        "{}",
        reply.to_xml(
            &first.header.from,
            &first.header.to,
            first.header.create_time + 1
        )
    );

    println!("\n== API bodies out");
    let card = TemplateCard::button_interaction(
        "退款申请 #1024",
        "refund_1024",
        vec![
            Button::new("同意", "approve"),
            Button::new("驳回", "reject"),
        ],
    );
    let app = AppMessage::new(
        1_000_002,
        Recipients::users(["manager"]),
        Content::template_card(card),
    )
    .build()?;
    println!("message/send   {}", serde_json::to_string(&app)?);
    let kf = KfMessage::new(
        "wmAAAA",
        "wkSHOP",
        KfContent::text("您好，已为您转人工客服。"),
    );
    kf.validate()?;
    println!("kf/send_msg    {}", serde_json::to_string(&kf)?);
    let robot = WebhookMessage::markdown(
        "**今日咨询** 128 条，<font color=\"warning\">3 条投诉</font>待处理",
    );
    robot.validate()?;
    println!("webhook/send   {}", serde_json::to_string(&robot)?);

    println!("\n== limits are checked before sending");
    match Content::text("长".repeat(700)).validate() {
        Ok(()) => println!("accepted?!"),
        Err(e) => println!("refused: {e}"),
    }
    let parts = split_text(&"这是一段很长的回复。".repeat(300), 2048);
    println!(
        "a 9000-byte reply splits into {} parts of at most 2048 bytes",
        parts.len()
    );
    Ok(())
}
