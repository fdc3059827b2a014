//! The server's CMAF LL-HLS media playlist: its parser, and the part loop behind HLS over
//! MSE ([`super::hls_mse`]): the fMP4 parts are fetched one after another with blocking
//! playlist reloads (`_HLS_msn` / `_HLS_part`), starting at the newest independent part.

use std::cell::Cell;
use std::rc::Rc;

use gloo_net::http::Request;

/// A part of the playlist, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub msn: u64,
    pub index: usize,
    pub uri: String,
    pub independent: bool,
    /// The `EXT-X-MAP` in force for it.
    pub map: Option<String>,
}

/// What the player needs of a media playlist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Playlist {
    pub parts: Vec<Part>,
    /// Media sequence numbers of the complete segments.
    pub complete: Vec<u64>,
    pub ended: bool,
}

/// Parses a CMAF LL-HLS media playlist (the subset the onair server writes).
pub fn parse(text: &str) -> Playlist {
    let mut out = Playlist::default();
    let mut msn = 0u64;
    let mut index = 0usize;
    let mut map = None;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            msn = v.parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("#EXT-X-MAP:") {
            map = attribute(v, "URI");
        } else if let Some(v) = line.strip_prefix("#EXT-X-PART:") {
            if let Some(uri) = attribute(v, "URI") {
                out.parts.push(Part {
                    msn,
                    index,
                    uri,
                    independent: v.contains("INDEPENDENT=YES"),
                    map: map.clone(),
                });
                index += 1;
            }
        } else if line == "#EXT-X-ENDLIST" {
            out.ended = true;
        } else if !line.is_empty() && !line.starts_with('#') {
            out.complete.push(msn);
            msn += 1;
            index = 0;
        }
    }
    out
}

fn attribute(list: &str, name: &str) -> Option<String> {
    let start = list.find(&format!("{name}=\""))? + name.len() + 2;
    let len = list[start..].find('"')?;
    Some(list[start..start + len].to_string())
}

/// What the fetch loop hands the player.
pub enum Chunk {
    /// An init segment (first, and again after a discontinuity).
    Init(Vec<u8>),
    Media(Vec<u8>),
}

/// Runs until `alive` is cleared or the playlist ends; `Ok` on `EXT-X-ENDLIST`.
pub async fn run(
    base: String,
    query: String,
    alive: Rc<Cell<bool>>,
    mut on_chunk: impl FnMut(Chunk),
) -> Result<(), String> {
    // `query` is `?token=…` for a private room; the server puts it on the part URIs itself.
    let playlist = format!("{base}/index.m3u8{query}");
    let sep = if query.is_empty() { '?' } else { '&' };
    let mut list = parse(&text(&playlist).await?);
    let mut map: Option<String> = None;
    // Start at the newest independent part (a keyframe): low latency without a seek.
    let mut next = list
        .parts
        .iter()
        .rev()
        .find(|p| p.independent)
        .map(|p| (p.msn, p.index))
        .ok_or("the playlist has no parts yet")?;
    while alive.get() {
        let found = list
            .parts
            .iter()
            .find(|p| (p.msn, p.index) == next)
            .cloned();
        match found {
            Some(part) => {
                if part.map != map {
                    if let Some(uri) = &part.map {
                        on_chunk(Chunk::Init(bytes(&format!("{base}/{uri}")).await?));
                    }
                    map = part.map.clone();
                }
                let data = bytes(&format!("{base}/{}", part.uri)).await?;
                if !alive.get() {
                    break;
                }
                on_chunk(Chunk::Media(data));
                next = (part.msn, part.index + 1);
            }
            None if list.complete.contains(&next.0) => next = (next.0 + 1, 0),
            None if list.ended => return Ok(()),
            None if list.parts.first().is_some_and(|p| p.msn > next.0) => {
                // Fell out of the window: start again at the newest keyframe.
                if let Some(p) = list.parts.iter().rev().find(|p| p.independent) {
                    next = (p.msn, p.index);
                }
            }
            None => {}
        }
        if !list.parts.iter().any(|p| (p.msn, p.index) == next) && !list.ended {
            // Blocks on the server until that part exists.
            let url = format!("{playlist}{sep}_HLS_msn={}&_HLS_part={}", next.0, next.1);
            list = parse(&text(&url).await?);
        }
    }
    Ok(())
}

async fn get(url: &str) -> Result<gloo_net::http::Response, String> {
    let r = Request::get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !r.ok() {
        return Err(format!("{url}: HTTP {}", r.status()));
    }
    Ok(r)
}

async fn text(url: &str) -> Result<String, String> {
    get(url).await?.text().await.map_err(|e| e.to_string())
}

async fn bytes(url: &str) -> Result<Vec<u8>, String> {
    get(url).await?.binary().await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-MAP:URI=\"init-0.mp4\"\n#EXTINF:2.00000,\nseg5.m4s\n\
#EXT-X-PART:DURATION=0.33,URI=\"part6.0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PART:DURATION=0.33,URI=\"part6.1.m4s\"\n#EXTINF:2.00000,\nseg6.m4s\n\
#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init-1.mp4\"\n\
#EXT-X-PART:DURATION=0.33,URI=\"part7.0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part7.1.m4s\"\n";

    #[test]
    fn parts_get_their_segment_numbers_and_maps() {
        let p = parse(LIST);
        assert_eq!(p.complete, vec![5, 6]);
        assert!(!p.ended);
        let ids: Vec<_> = p
            .parts
            .iter()
            .map(|x| (x.msn, x.index, x.independent))
            .collect();
        assert_eq!(ids, vec![(6, 0, true), (6, 1, false), (7, 0, true)]);
        assert_eq!(p.parts[0].map.as_deref(), Some("init-0.mp4"));
        assert_eq!(p.parts[2].map.as_deref(), Some("init-1.mp4"));
        assert_eq!(p.parts[2].uri, "part7.0.m4s");
        assert!(parse("#EXTM3U\n#EXT-X-ENDLIST\n").ended);
    }
}
