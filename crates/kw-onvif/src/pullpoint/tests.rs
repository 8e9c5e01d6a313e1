//! PullPoint answers shaped like two makers' cameras (written for these tests).

use super::*;

const H_SUBSCRIBED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">
<env:Header><wsa:Action>http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionResponse</wsa:Action></env:Header>
<env:Body><tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>http://192.168.1.64/onvif/Events/PullSubManager_2026-11-27T10:00:00Z_0</wsa:Address></tev:SubscriptionReference>
<wsnt:CurrentTime>2026-11-27T10:00:00Z</wsnt:CurrentTime><wsnt:TerminationTime>2026-11-27T10:01:00Z</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse></env:Body></env:Envelope>"#;

/// The replay after subscribing (Initialized), then a change, as an "H" camera sends them.
const H_PULL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics">
<env:Body><tev:PullMessagesResponse><tev:CurrentTime>2026-11-27T10:00:05Z</tev:CurrentTime><tev:TerminationTime>2026-11-27T10:01:05Z</tev:TerminationTime>
<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>
<wsnt:Message><tt:Message UtcTime="2026-11-27T10:00:00Z" PropertyOperation="Initialized"><tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="VideoSourceToken"/><tt:SimpleItem Name="VideoAnalyticsConfigurationToken" Value="VideoAnalyticsToken"/><tt:SimpleItem Name="Rule" Value="MyMotionDetectorRule"/></tt:Source><tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>
<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>
<wsnt:Message><tt:Message UtcTime="2026-11-27T10:00:04Z" PropertyOperation="Changed"><tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="VideoSourceToken"/><tt:SimpleItem Name="VideoAnalyticsConfigurationToken" Value="VideoAnalyticsToken"/><tt:SimpleItem Name="Rule" Value="MyMotionDetectorRule"/></tt:Source><tt:Data><tt:SimpleItem Name="IsMotion" Value="false"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>
</tev:PullMessagesResponse></env:Body></env:Envelope>"#;

/// A "D" camera: other prefixes, `VideoSource/MotionAlarm` with `State`, plus an unrelated topic.
const D_PULL: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:ns0="http://www.onvif.org/ver10/schema" xmlns:ns2="http://docs.oasis-open.org/wsn/b-2" xmlns:ns3="http://www.onvif.org/ver10/topics" xmlns:ev="http://www.onvif.org/ver10/events/wsdl">
<s:Body><ev:PullMessagesResponse><ev:CurrentTime>2026-11-27T10:00:05Z</ev:CurrentTime><ev:TerminationTime>2026-11-27T10:01:05Z</ev:TerminationTime>
<ns2:NotificationMessage><ns2:Topic Dialect="http://docs.oasis-open.org/wsn/t-1/TopicExpression/Simple">ns3:VideoSource/MotionAlarm</ns2:Topic><ns2:Message><ns0:Message PropertyOperation="Changed" UtcTime="2026-11-27T10:00:05Z"><ns0:Source><ns0:SimpleItem Value="000" Name="Source"></ns0:SimpleItem></ns0:Source><ns0:Data><ns0:SimpleItem Value="true" Name="State"></ns0:SimpleItem></ns0:Data></ns0:Message></ns2:Message></ns2:NotificationMessage>
<ns2:NotificationMessage><ns2:Topic Dialect="http://docs.oasis-open.org/wsn/t-1/TopicExpression/Simple">ns3:VideoSource/GlobalSceneChange/ImagingService</ns2:Topic><ns2:Message><ns0:Message PropertyOperation="Changed" UtcTime="2026-11-27T10:00:05Z"><ns0:Data><ns0:SimpleItem Value="true" Name="State"></ns0:SimpleItem></ns0:Data></ns0:Message></ns2:Message></ns2:NotificationMessage>
</ev:PullMessagesResponse></s:Body></s:Envelope>"#;

#[test]
fn subscriptions_and_notifications_of_two_makers() {
    let s = parse_subscription(H_SUBSCRIBED).unwrap();
    assert_eq!(s.address, "http://192.168.1.64/onvif/Events/PullSubManager_2026-11-27T10:00:00Z_0");
    assert_eq!(s.remaining(), Some(Duration::from_secs(60)));
    let h = parse_notifications(H_PULL).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].topic, "RuleEngine/CellMotionDetector/Motion");
    assert_eq!(h[0].operation.as_deref(), Some("Initialized"));
    assert_eq!(h[0].motion(), Some(true));
    assert_eq!(h[1].motion(), Some(false));
    assert_eq!(h[0].source.len(), 3);
    let d = parse_notifications(D_PULL).unwrap();
    assert_eq!(d[0].topic, "VideoSource/MotionAlarm");
    assert_eq!(d[0].motion(), Some(true));
    assert_eq!(d[1].motion(), None, "scene change is not motion");
    assert!(parse_subscription(D_PULL).is_err(), "no address");
    assert!(s.reference_params.is_empty());
    // A camera that wants its subscription id echoed (prefix declared on the envelope only).
    let with_id = H_SUBSCRIBED
        .replace("xmlns:wsnt=", "xmlns:vnd=\"http://vendor.example/event\" xmlns:wsnt=")
        .replace("</wsa:Address>", "</wsa:Address><wsa:ReferenceParameters><vnd:SubscriptionId>7&amp;</vnd:SubscriptionId><vnd:Nested><vnd:X/></vnd:Nested></wsa:ReferenceParameters>");
    let s = parse_subscription(&with_id).unwrap();
    assert_eq!(
        s.reference_params,
        vec![
            r#"<rp:SubscriptionId xmlns:rp="http://vendor.example/event" wsa:IsReferenceParameter="true">7&amp;</rp:SubscriptionId>"#
        ]
    );
    let header = sub_headers("urn:a", &s);
    let env = crate::soap::envelope(&header, "<tev:PullMessages/>");
    assert!(xml::parse(&env).is_ok(), "self-contained: {env}");
    assert!(parse_notifications("<broken").is_err());
}

#[test]
fn replays_are_ignored_and_stale_alarms_expire() {
    let mut t = MotionTracker::new(Duration::from_secs(60));
    let h = parse_notifications(H_PULL).unwrap();
    assert_eq!(t.observe(&h[0], 0), None, "Initialized true is the replay, not motion");
    assert_eq!(t.observe(&h[1], 1_000), None, "already off");
    let mut on = h[1].clone();
    on.operation = Some("Changed".into());
    on.data = vec![("IsMotion".into(), "true".into())];
    let c = t.observe(&on, 2_000).unwrap();
    assert!(c.on && c.topic == "RuleEngine/CellMotionDetector/Motion");
    // A second source turning on and off keeps the whole on.
    let d = parse_notifications(D_PULL).unwrap();
    assert_eq!(t.observe(&d[0], 3_000), None);
    let mut d_off = d[0].clone();
    d_off.data = vec![("State".into(), "false".into())];
    assert_eq!(t.observe(&d_off, 4_000), None);
    assert_eq!(t.observe(&h[1], 5_000).map(|c| c.on), Some(false));
    // A camera that never says "off": refreshed at 10 s, expired 60 s later.
    assert!(t.observe(&on, 6_000).unwrap().on);
    assert_eq!(t.observe(&on, 10_000), None);
    assert_eq!(t.tick(69_999), None);
    let c = t.tick(70_000).unwrap();
    assert!(!c.on && c.topic.is_empty());
    assert!(!t.is_on());
    // A replayed "off" ends an "on" keepwatch still had.
    assert!(t.observe(&on, 80_000).unwrap().on);
    let mut replay_off = h[1].clone();
    replay_off.operation = Some("Initialized".into());
    assert_eq!(t.observe(&replay_off, 81_000).map(|c| c.on), Some(false));
}

#[test]
fn durations_for_requests() {
    assert_eq!(xs_duration(Duration::from_secs(10)), "PT10S");
    assert_eq!(xs_duration(Duration::from_millis(10)), "PT1S");
    assert!(addressing("a&b", "http://x/?a=1&b=2").contains("&amp;b=2"));
}
