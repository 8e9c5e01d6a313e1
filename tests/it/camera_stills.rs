//! `snapshot.jpg` from the camera's own pictures (issue 20, item 7): an MJPEG camera's snapshot is the last
//! JPEG it sent (not a decode of the H.264 keepwatch made from it), and an ONVIF camera keepwatch cannot
//! decode (one H.265 profile, no H.264 sub profile) gets its snapshot from the camera's ONVIF snapshot page,
//! behind the camera's HTTP Digest login. The H.265 stream comes from the live555 test server.

use crate::support;
use crate::support::keepwatch::*;
use crate::support::live555::{self, EsSpec, Live555};
use crate::support::mjpeg_camera::{make_pictures, CameraOptions, MjpegCamera};
use crate::support::onvif_device::{Maker, OnvifDevice, Spec};
use std::time::Duration;

#[test]
fn an_mjpeg_cameras_snapshot_is_its_own_jpeg() {
    let opts = CameraOptions::default();
    let pictures = make_pictures(opts.width, opts.height, opts.pictures);
    let cam = MjpegCamera::start(opts.clone());
    let dir = tempfile::tempdir().unwrap();
    let creds = format!("username = \"{}\"\npassword = \"{}\"\n", opts.user, opts.password);
    let config = write_config(dir.path(), "", &camera("garage", &cam.url("/goform/video"), &creds));
    let token = create_token(&config, "t", "viewer", None);
    let mut kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&token);
    kw.expect_streaming(&["garage"], Duration::from_secs(60));
    let r = api.get("/api/cameras/garage/snapshot.jpg");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(pictures.contains(&r.body), "the snapshot is not one of the camera's JPEGs ({} bytes)", r.body.len());
    kw.stop_ok();
}

#[test]
fn an_h265_onvif_camera_without_sub_stream_snapshots_through_its_snapshot_page() {
    support::require_tools(&["ffmpeg"]);
    let hevc = live555::es_clip(&EsSpec { codec: "h265", seconds: 20, ..EsSpec::default() });
    let server = Live555::start(&[live555::stream_arg("main", "h265", &hevc, 25, None, None)], false);
    let device = OnvifDevice::start(Spec {
        maker: Maker::D,
        user: "admin".into(),
        password: "d-pw".into(),
        rtsp_main: server.url("main"),
        rtsp_sub: server.url("main"),
        clock_offset_s: 0,
    });
    let jpeg = make_pictures(320, 240, 1).remove(0);
    device.h265_only_with_snapshot(jpeg.clone());
    let dir = tempfile::tempdir().unwrap();
    let cam = camera(
        "hevc",
        &format!("onvif://admin:d-pw@127.0.0.1:{}", device.port),
        "\n[cameras.motion]\nenabled = false\n",
    );
    let config = write_config(dir.path(), "", &cam);
    let token = create_token(&config, "t", "viewer", None);
    let mut kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&token);
    kw.expect_streaming(&["hevc"], Duration::from_secs(60));
    let r = api.get("/api/cameras/hevc/snapshot.jpg");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), kw.log_text());
    assert_eq!(r.body, jpeg, "the camera's snapshot page was not served");
    assert!(device.snapshot_requests() >= 1);
    kw.stop_ok();
    let log = kw.log_text();
    assert!(!log.contains("d-pw"), "the password reached the log:\n{log}");
}
