//! Install (precache, skipWaiting) and activate (drop other versions, claim clients).

use std::rc::Rc;

use js_sys::{Array, Promise};
use wasm_bindgen::{JsCast, JsError, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Cache, Request, RequestCache, RequestInit, Response};

use super::fetch::{self, now};
use super::{js, Engine};

pub fn install(eng: Option<Rc<Engine>>) -> Promise {
    future_to_promise(async move {
        // No `swcache.start(...)` ran: the engine handles nothing, so install is trivial.
        let Some(eng) = eng else { return Ok(JsValue::UNDEFINED) };
        if !eng.cfg.precache.is_empty() {
            let cache = fetch::open(&eng, eng.precache_slot()).await?;
            let all = Array::new();
            for path in &eng.cfg.precache {
                all.push(&future_to_promise(precache_one(eng.clone(), cache.clone(), path.clone())));
            }
            JsFuture::from(Promise::all(&all)).await?;
        }
        if !eng.cfg.wait_for_clients {
            JsFuture::from(eng.scope.skip_waiting()?).await?;
        }
        Ok(JsValue::UNDEFINED)
    })
}

/// Fetches one precache URL past the HTTP cache; anything but a 200 fails the install.
async fn precache_one(eng: Rc<Engine>, cache: Cache, path: String) -> Result<JsValue, JsValue> {
    let mut url = eng.origin.clone();
    url.push_str(&path);
    let init = RequestInit::new();
    init.set_cache(RequestCache::Reload);
    let req = Request::new_with_str_and_init(&url, &init)?;
    let started = now();
    let resp: Response = match JsFuture::from(eng.scope.fetch_with_request(&req)).await {
        Ok(r) => r.unchecked_into(),
        Err(e) => return Err(JsError::new(&format!("swcache precache: {path} failed: {}", js::error_text(&e))).into()),
    };
    if resp.status() != 200 {
        return Err(JsError::new(&format!("swcache precache: {path} answered HTTP {}", resp.status())).into());
    }
    let copy = fetch::copy_for_cache(&eng, &resp, started)?;
    JsFuture::from(cache.put_with_request(&req, &copy)).await?;
    Ok(JsValue::UNDEFINED)
}

pub fn activate(eng: Option<Rc<Engine>>) -> Promise {
    future_to_promise(async move {
        let Some(eng) = eng else { return Ok(JsValue::UNDEFINED) };
        let storage = eng.scope.caches()?;
        let names: Array = JsFuture::from(storage.keys()).await?.unchecked_into();
        let deletions = Array::new();
        for name in names.iter().filter_map(|n| n.as_string()) {
            if eng.cfg.is_obsolete_cache(&name) {
                deletions.push(&storage.delete(&name));
            }
        }
        JsFuture::from(Promise::all(&deletions)).await?;
        if !eng.cfg.wait_for_clients {
            JsFuture::from(eng.scope.clients().claim()).await?;
        }
        Ok(JsValue::UNDEFINED)
    })
}
