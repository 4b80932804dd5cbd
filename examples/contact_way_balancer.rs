//! A 活码 (contact way: one QR code for several members) that keeps routing new
//! customers to the members with room, against the embedded simulator's customer model,
//! no account needed. WeCom caps the customers one member may have; when a member nears
//! the cap, the balancer takes them off the contact way (`update_contact_way`) and puts
//! them back when room is made. The cap here is 60 so the run is short (WeCom's is in
//! the tens of thousands). Printed tick by tick.
//!
//! Run with: `cargo run --example contact_way_balancer`

use wecom_sdk::client::Client;
use wecom_sdk::client::api::external_contact::ContactWay;
use wecom_sdk_sim::{FakeConfig, FakeWeCom};

const CORP_ID: &str = "wwbalancer000001";
const SECRET: &str = "balancer-secret";
/// The most customers a member may have (WeCom's limit, shrunk for the demo).
const CAP: usize = 60;
/// Members with fewer free places than this leave the contact way.
const MARGIN: usize = 10;
const STAFF: [(&str, &str, usize); 3] = [
    ("zhangsan", "张三", 45),
    ("lisi", "李四", 20),
    ("wangwu", "王五", 5),
];

/// The members with room, most room first, and each member's count.
async fn with_room(
    client: &Client,
) -> Result<(Vec<String>, Vec<(String, usize)>), Box<dyn std::error::Error>> {
    let mut counts = Vec::new();
    for (userid, _, _) in STAFF {
        let n = client.external_contact().list(userid).await?.len();
        counts.push((userid.to_owned(), n));
    }
    let mut room: Vec<(String, usize)> = counts
        .iter()
        .filter(|(_, n)| CAP.saturating_sub(*n) >= MARGIN)
        .map(|(u, n)| (u.clone(), CAP - n))
        .collect();
    room.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok((room.into_iter().map(|(u, _)| u).collect(), counts))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = FakeConfig::new(CORP_ID).secret(SECRET);
    for (userid, name, _) in STAFF {
        config = config.staff(userid, name);
    }
    let wecom = FakeWeCom::start(config).await?;
    for (userid, _, existing) in STAFF {
        for i in 0..existing {
            wecom.add_customer(userid, &format!("wm{userid}{i}"), &format!("老客户{i}"));
        }
    }
    let client = Client::builder()
        .corp_id(CORP_ID)
        .secret(SECRET)
        .base_url(wecom.base_url())
        .build()?;
    let contacts = client.external_contact();

    let (members, _) = with_room(&client).await?;
    let way = ContactWay::qr_code_for_members(members.clone())
        .remark("门店活码")
        .state("store-qr");
    let created = contacts.add_contact_way(&way).await?;
    println!(
        "contact way {} routes to {members:?} (cap {CAP}, margin {MARGIN})",
        created.config_id
    );

    let mut routed_to = members;
    let mut newcomer = 0;
    for tick in 1..=8 {
        // Ten customers scan the QR code: WeCom spreads them over the way's members.
        for i in 0..10 {
            let Some(member) = routed_to.get(i % routed_to.len().max(1)) else {
                break;
            };
            newcomer += 1;
            wecom.add_customer(
                member,
                &format!("wmNew{newcomer}"),
                &format!("新客户{newcomer}"),
            );
        }
        let (members, counts) = with_room(&client).await?;
        let line: Vec<String> = counts
            .iter()
            .map(|(u, n)| format!("{u} {n}/{CAP}"))
            .collect();
        if members == routed_to {
            println!("tick {tick}: {}", line.join(", "));
        } else if members.is_empty() {
            println!(
                "tick {tick}: {} — every member is full: the contact way is left as it is; add staff",
                line.join(", ")
            );
            break;
        } else {
            let update = ContactWay::qr_code_for_members(members.clone())
                .remark("门店活码")
                .state("store-qr");
            contacts
                .update_contact_way(&created.config_id, &update)
                .await?;
            println!(
                "tick {tick}: {} → contact way now routes to {members:?}",
                line.join(", ")
            );
            routed_to = members;
        }
    }
    let stored = contacts.get_contact_way(&created.config_id).await?;
    println!("\nthe contact way WeCom has: user = {}", stored["user"]);
    Ok(())
}
