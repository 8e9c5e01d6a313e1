//! Answers shaped like two makers' cameras (written for these tests): an "H" camera with Media2 and the
//! `env:`/`tr2:`/`tt:` prefixes, and a "D" camera with Media1 only, SOAP 1.2 under `s:` and the schema
//! under `ns1:`.

use super::*;

const H_SERVICES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema">
<env:Body><tds:GetServicesResponse>
<tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace><tds:XAddr>http://192.168.1.64/onvif/device_service</tds:XAddr><tds:Version><tt:Major>17</tt:Major><tt:Minor>12</tt:Minor></tds:Version></tds:Service>
<tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>http://192.168.1.64/onvif/Media</tds:XAddr></tds:Service>
<tds:Service><tds:Namespace>http://www.onvif.org/ver10/events/wsdl</tds:Namespace><tds:XAddr>http://192.168.1.64/onvif/Events</tds:XAddr></tds:Service>
<tds:Service><tds:Namespace>http://www.onvif.org/ver20/media/wsdl</tds:Namespace><tds:XAddr>http://192.168.1.64/onvif/Media2</tds:XAddr></tds:Service>
</tds:GetServicesResponse></env:Body></env:Envelope>"#;

const H_PROFILES2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema">
<env:Body><tr2:GetProfilesResponse>
<tr2:Profiles token="Profile_1" fixed="true"><tr2:Name>mainStream</tr2:Name><tr2:Configurations>
 <tr2:VideoSource token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name><tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="3840" height="2160"></tt:Bounds></tr2:VideoSource>
 <tr2:VideoEncoder token="VideoEncoderToken_1" GovLength="50" Profile="Main"><tt:Name>VideoEncoder_1</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H265</tt:Encoding><tt:Resolution><tt:Width>3840</tt:Width><tt:Height>2160</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality></tr2:VideoEncoder>
</tr2:Configurations></tr2:Profiles>
<tr2:Profiles token="Profile_2" fixed="true"><tr2:Name>subStream</tr2:Name><tr2:Configurations>
 <tr2:VideoEncoder token="VideoEncoderToken_2" GovLength="50" Profile="Main"><tt:Name>VideoEncoder_2</tt:Name><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>640</tt:Width><tt:Height>360</tt:Height></tt:Resolution></tr2:VideoEncoder>
</tr2:Configurations></tr2:Profiles>
<tr2:Profiles token="Profile_3" fixed="true"><tr2:Name>thirdStream</tr2:Name><tr2:Configurations>
 <tr2:VideoEncoder token="VideoEncoderToken_3"><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1280</tt:Width><tt:Height>720</tt:Height></tt:Resolution></tr2:VideoEncoder>
</tr2:Configurations></tr2:Profiles>
<tr2:Profiles token="Profile_4"><tr2:Name>audioOnly</tr2:Name><tr2:Configurations><tr2:AudioSource token="a"/></tr2:Configurations></tr2:Profiles>
</tr2:GetProfilesResponse></env:Body></env:Envelope>"#;

const H_STREAM2: &str = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl"><env:Body><tr2:GetStreamUriResponse><tr2:Uri>rtsp://192.168.1.64:554/Streaming/Channels/101?transportmode=unicast&amp;profile=Profile_1</tr2:Uri></tr2:GetStreamUriResponse></env:Body></env:Envelope>"#;

const H_TIME: &str = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body><tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>CST-8:00:00</tt:TZ></tt:TimeZone>
<tt:UTCDateTime><tt:Time><tt:Hour>11</tt:Hour><tt:Minute>6</tt:Minute><tt:Second>40</tt:Second></tt:Time><tt:Date><tt:Year>2026</tt:Year><tt:Month>11</tt:Month><tt:Day>18</tt:Day></tt:Date></tt:UTCDateTime>
<tt:LocalDateTime><tt:Time><tt:Hour>19</tt:Hour><tt:Minute>6</tt:Minute><tt:Second>40</tt:Second></tt:Time><tt:Date><tt:Year>2026</tt:Year><tt:Month>11</tt:Month><tt:Day>18</tt:Day></tt:Date></tt:LocalDateTime>
</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></env:Body></env:Envelope>"#;

const D_CAPABILITIES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:ns1="http://www.onvif.org/ver10/schema" xmlns:dev="http://www.onvif.org/ver10/device/wsdl">
<s:Header/><s:Body><dev:GetCapabilitiesResponse><dev:Capabilities>
<ns1:Device><ns1:XAddr>http://10.0.0.108/onvif/device_service</ns1:XAddr></ns1:Device>
<ns1:Events><ns1:XAddr>http://10.0.0.108/onvif/event_service</ns1:XAddr><ns1:WSSubscriptionPolicySupport>true</ns1:WSSubscriptionPolicySupport><ns1:WSPullPointSupport>true</ns1:WSPullPointSupport></ns1:Events>
<ns1:Media><ns1:XAddr>http://10.0.0.108/onvif/media_service</ns1:XAddr><ns1:StreamingCapabilities><ns1:RTPMulticast>true</ns1:RTPMulticast></ns1:StreamingCapabilities></ns1:Media>
</dev:Capabilities></dev:GetCapabilitiesResponse></s:Body></s:Envelope>"#;

const D_PROFILES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:ns1="http://www.onvif.org/ver10/schema" xmlns:med="http://www.onvif.org/ver10/media/wsdl">
<s:Body><med:GetProfilesResponse>
<med:Profiles fixed="true" token="MediaProfile000"><ns1:Name>MediaProfile_Channel1_MainStream</ns1:Name>
 <ns1:VideoSourceConfiguration token="000"><ns1:Name>VideoSourceConfig_Channel1</ns1:Name><ns1:Bounds height="1440" width="2560" y="0" x="0"/></ns1:VideoSourceConfiguration>
 <ns1:VideoEncoderConfiguration token="000"><ns1:Name>VideoEncoderConfig_Channel1_MainStream</ns1:Name><ns1:Encoding>H264</ns1:Encoding><ns1:Resolution><ns1:Width>2560</ns1:Width><ns1:Height>1440</ns1:Height></ns1:Resolution></ns1:VideoEncoderConfiguration>
</med:Profiles>
<med:Profiles fixed="true" token="MediaProfile001"><ns1:Name>MediaProfile_Channel1_SubStream1</ns1:Name>
 <ns1:VideoEncoderConfiguration token="001"><ns1:Encoding>H264</ns1:Encoding><ns1:Resolution><ns1:Width>704</ns1:Width><ns1:Height>480</ns1:Height></ns1:Resolution></ns1:VideoEncoderConfiguration>
</med:Profiles>
<med:Profiles fixed="true" token="MediaProfile002"><ns1:Name>MediaProfile_Channel1_SubStream2</ns1:Name>
 <ns1:VideoEncoderConfiguration token="002"><ns1:Encoding>JPEG</ns1:Encoding><ns1:Resolution><ns1:Width>352</ns1:Width><ns1:Height>240</ns1:Height></ns1:Resolution></ns1:VideoEncoderConfiguration>
</med:Profiles>
</med:GetProfilesResponse></s:Body></s:Envelope>"#;

const D_STREAM: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:ns1="http://www.onvif.org/ver10/schema" xmlns:med="http://www.onvif.org/ver10/media/wsdl"><s:Body><med:GetStreamUriResponse><med:MediaUri><ns1:Uri>rtsp://10.0.0.108:554/cam/realmonitor?channel=1&amp;subtype=0&amp;unicast=true&amp;proto=Onvif</ns1:Uri><ns1:InvalidAfterConnect>false</ns1:InvalidAfterConnect><ns1:InvalidAfterReboot>false</ns1:InvalidAfterReboot><ns1:Timeout>PT0S</ns1:Timeout></med:MediaUri></med:GetStreamUriResponse></s:Body></s:Envelope>"#;

const D_INFO: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:dev="http://www.onvif.org/ver10/device/wsdl"><s:Body><dev:GetDeviceInformationResponse><dev:Manufacturer>Dahua</dev:Manufacturer><dev:Model>IPC-HDW2431T</dev:Model><dev:FirmwareVersion>2.800.0000000.22.R</dev:FirmwareVersion><dev:SerialNumber>7A0123456</dev:SerialNumber><dev:HardwareId>1.00</dev:HardwareId></dev:GetDeviceInformationResponse></s:Body></s:Envelope>"#;

#[test]
fn h_camera_media2_profiles_and_uris() {
    let s = parse_services(H_SERVICES).unwrap();
    assert_eq!(s.media2.as_deref(), Some("http://192.168.1.64/onvif/Media2"));
    assert_eq!(s.media.as_deref(), Some("http://192.168.1.64/onvif/Media"));
    assert_eq!(s.events.as_deref(), Some("http://192.168.1.64/onvif/Events"));
    let p = parse_profiles(H_PROFILES2, true).unwrap();
    assert_eq!(p.len(), 3, "the audio-only profile has no video encoder: {p:?}");
    let (main, sub) = choose(&p).unwrap();
    assert_eq!((main.token.as_str(), main.encoding.as_str(), main.width), ("Profile_1", "H265", 3840));
    let sub = sub.unwrap();
    assert_eq!((sub.token.as_str(), sub.width, sub.height), ("Profile_2", 640, 360), "closest to 640 wide");
    assert!(main.media2);
    assert_eq!(
        parse_uri(H_STREAM2).unwrap(),
        "rtsp://192.168.1.64:554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1"
    );
    assert_eq!(parse_system_time(H_TIME).unwrap(), Some(1_795_000_000_000), "UTC, not local time");
}

#[test]
fn d_camera_media1_only() {
    let s = parse_services(D_CAPABILITIES).unwrap();
    assert_eq!(s.media2, None);
    assert_eq!(s.media.as_deref(), Some("http://10.0.0.108/onvif/media_service"));
    assert_eq!(s.events.as_deref(), Some("http://10.0.0.108/onvif/event_service"));
    let p = parse_profiles(D_PROFILES, false).unwrap();
    assert_eq!(p.len(), 3);
    let (main, sub) = choose(&p).unwrap();
    assert_eq!(main.token, "MediaProfile000");
    assert_eq!(sub.unwrap().token, "MediaProfile001", "JPEG is not a sub stream");
    assert!(parse_uri(D_STREAM).unwrap().ends_with("channel=1&subtype=0&unicast=true&proto=Onvif"));
    let info = parse_device_info(D_INFO).unwrap();
    assert_eq!((info.manufacturer.as_str(), info.model.as_str()), ("Dahua", "IPC-HDW2431T"));
}

#[test]
fn addresses_are_rebased_and_bad_answers_refused() {
    let base = url::Url::parse("http://cam.example:8080/onvif/device_service").unwrap();
    assert_eq!(
        rebase_service("http://10.0.0.108/onvif/media_service", &base),
        "http://cam.example:8080/onvif/media_service"
    );
    assert_eq!(rebase_stream("rtsp://0.0.0.0:554/live?x=1", &base), "rtsp://cam.example:554/live?x=1");
    let u = url::Url::parse("onvif://cam.example:8080").unwrap();
    assert_eq!(device_url(&u).unwrap(), "http://cam.example:8080/onvif/device_service");
    let u = url::Url::parse("onvif://cam.example/custom/path").unwrap();
    assert_eq!(device_url(&u).unwrap(), "http://cam.example:80/custom/path");
    assert!(parse_uri("<a/>").is_err());
    assert!(parse_profiles("<a", true).is_err());
    assert_eq!(parse_profiles(H_STREAM2, true).unwrap(), vec![]);
    assert_eq!(parse_system_time(H_STREAM2).unwrap(), None);
    let broken = H_TIME.replace("<tt:Month>11</tt:Month>", "<tt:Month>13</tt:Month>");
    assert_eq!(parse_system_time(&broken).unwrap(), None);
    assert!(choose(&[]).is_none());
}

#[test]
fn truncated_and_mangled_answers_never_panic() {
    for fixture in [H_SERVICES, H_PROFILES2, H_STREAM2, H_TIME, D_CAPABILITIES, D_PROFILES, D_STREAM, D_INFO] {
        let cuts = fixture.char_indices().map(|(i, _)| i).step_by(7);
        for cut in cuts {
            for text in [&fixture[..cut], &fixture.replacen('<', "", 1 + cut % 5)[..]] {
                let _ = parse_services(text);
                let _ = parse_profiles(text, cut % 2 == 0);
                let _ = parse_uri(text);
                let _ = parse_system_time(text);
                let _ = parse_device_info(text);
                let _ = crate::pullpoint::parse_notifications(text);
                let _ = crate::pullpoint::parse_subscription(text);
                let _ = crate::discovery::parse_probe_matches(text, None);
                if let Ok(doc) = xml::parse(text) {
                    let _ = xml::fault(&doc);
                }
            }
        }
    }
}
