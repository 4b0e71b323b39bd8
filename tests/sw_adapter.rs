//! Adapter tests inside a real service worker (headless Chromium via chromedriver):
//! stamping a fetched, immutable Response, a Cache put/match round trip, and config
//! conversion from real JS values (RegExp included).
#![cfg(all(target_arch = "wasm32", feature = "sw"))]

use js_sys::{Function, Promise};
use swcache::sw::fetch::{stamp_of, stamped_copy};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Cache, Response, ResponseInit, ServiceWorkerGlobalScope};

wasm_bindgen_test_configure!(run_in_service_worker);

fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

async fn text(r: &Response) -> String {
    JsFuture::from(r.text().unwrap()).await.unwrap().as_string().unwrap()
}

fn js(src: &str) -> JsValue {
    Function::new_no_args(&format!("return ({src});")).call0(&JsValue::NULL).unwrap()
}

/// A genuinely fetched response (the worker's own script): its headers are immutable.
async fn fetched() -> Response {
    let url = scope().location().href();
    JsFuture::from(scope().fetch_with_str(&url)).await.unwrap().unchecked_into()
}

#[wasm_bindgen_test]
async fn fetched_headers_are_immutable_but_the_stamped_copy_carries_the_stamp() {
    let original = fetched().await;
    assert!(original.headers().set("sw-cache-time", "x").is_err(), "seed 000's bug: this throws");
    let status = original.status();
    let copy = stamped_copy(&original, 1_795_000_000_123.0).unwrap();
    assert_eq!(copy.headers().get("sw-cache-time").unwrap().as_deref(), Some("2026-11-18T11:06:40.123Z"));
    assert_eq!(copy.status(), status);
    assert_eq!(copy.headers().get("content-type").unwrap(), original.headers().get("content-type").unwrap());
    assert_eq!(original.headers().get("sw-cache-time").unwrap(), None, "original untouched");
    let (a, b) = (text(&original).await, text(&copy).await);
    assert!(!a.is_empty());
    assert_eq!(a, b, "both halves of the tee carry the whole body");
}

#[wasm_bindgen_test]
async fn cache_round_trip_keeps_body_and_stamp() {
    let storage = scope().caches().unwrap();
    let cache: Cache = JsFuture::from(storage.open("swcache-adapter-test")).await.unwrap().unchecked_into();
    let init = ResponseInit::new();
    init.set_status(200);
    let resp = Response::new_with_opt_str_and_init(Some("promo body"), &init).unwrap();
    let copy = stamped_copy(&resp, 86_400_000.0).unwrap();
    JsFuture::from(cache.put_with_str("/promo/round-trip", &copy)).await.unwrap();
    let found: Response = JsFuture::from(cache.match_with_str("/promo/round-trip")).await.unwrap().unchecked_into();
    assert_eq!(stamp_of(&found), Some(86_400_000.0));
    assert_eq!(text(&found).await, "promo body");
    let missing = JsFuture::from(cache.match_with_str("/promo/other")).await.unwrap();
    assert!(missing.is_undefined());
    let _: JsValue = JsFuture::from(storage.delete("swcache-adapter-test")).await.unwrap();
}

#[wasm_bindgen_test]
fn start_reports_bad_config_by_route_and_field() {
    let bad = js("{ version: 'v1', routes: [{ name: 'imgs', match: /\\.png$/, strategy: 'cacheFrist' }] }");
    let err = swcache::sw::start(bad).unwrap_err();
    let msg: JsValue = err.into();
    let msg = msg.unchecked_into::<js_sys::Error>().message();
    assert!(String::from(msg).contains("route 'imgs' (routes[0]) field 'strategy' must be one of"));
}

#[wasm_bindgen_test]
fn start_accepts_seed_config_with_real_regexps() {
    let ok = js("{ version: 'v1', precache: ['/'], routes: [
        { name: 'images', match: /\\.(png|jpe?g)$/, strategy: 'cacheFirst', maxAge: 1000, maxEntries: 2 },
        { name: 'pages', match: /^\\/(?!api)/, strategy: 'networkFirst', networkTimeout: 100 }] }");
    assert!(swcache::sw::start(ok).is_ok());
    let not_object = swcache::sw::start(JsValue::from_f64(3.0)).unwrap_err();
    let msg: JsValue = not_object.into();
    assert!(String::from(msg.unchecked_into::<js_sys::Error>().message()).contains("must be an object"));
}

#[wasm_bindgen_test]
async fn timeout_wait_gives_up_without_cancelling() {
    use swcache::sw::js::{sleep, wait, Waited};
    let never = Promise::new(&mut |_, _| {});
    assert!(matches!(wait(&never, Some(20)).await, Waited::TimedOut));
    assert!(matches!(wait(&sleep(5), Some(2000)).await, Waited::TimedOut), "a resolved undefined reads as the timer");
    let soon = Promise::resolve(&JsValue::from(7));
    assert!(matches!(wait(&soon, Some(2000)).await, Waited::Value(v) if v == 7));
}
