//! Shadow copies over NBD, end to end: a world whose backup leaves a persistent shadow copy
//! runs to its end on its own thread, then answers the NBD connections' questions; Debian's
//! `qemu-img` (package `qemu-utils`, which `.ci/run` installs) reads the export over a Unix
//! socket, and what it copies must be the shadow's instant, block by block.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;

use model::volume::store::{block_content, image_term};
use sim::serve::nbd::{self, NbdAnswer, NbdQuery, NbdRequest};
use sim::trace::Trace;
use sim::world::World;

/// A 64 MiB volume, a workload that keeps writing after the snapshot, and a client-accessible
/// shadow copy (persistent, not auto-release: it outlives the requester).
const SCENARIO: &str = r#"
[[volume]]
name = "F:"
size = "64MiB"

[[workload]]
name = "smb"
volumes = ["F:"]
rate = 2000

[[requester]]
name = "previous-versions"
context = "VSS_CTX_CLIENT_ACCESSIBLE"
"#;

/// What the world says the export must read.
struct Expected {
    name: String,
    block_size: usize,
    /// The shadow's image: each block's content at the instant, zeros for a hole.
    image: Vec<u8>,
    /// Blocks whose live content differs from the shadow's, with the live content.
    changed: Vec<(usize, Vec<u8>)>,
    /// Whether each block was written at the instant.
    written: Vec<bool>,
}

/// Runs the scenario to its end on a thread of its own, which then answers NBD requests until
/// the process ends; returns the channel to it and what the export must read.
fn world_thread() -> (mpsc::Sender<NbdRequest>, Expected) {
    let (requests, rx) = mpsc::channel::<NbdRequest>();
    let (facts_tx, facts) = mpsc::channel::<Result<Expected, String>>();
    std::thread::Builder::new()
        .name("world".into())
        .spawn(move || {
            let scenario = vss_sim_tests::inline(SCENARIO);
            let mut world = World::new(&scenario, 7, Trace::off());
            world.run();
            let _ = facts_tx.send(expected(&world));
            while let Ok((q, reply)) = rx.recv() {
                let _ = reply.send(nbd::answer(&world, &q));
            }
        })
        .expect("the world thread starts");
    let expected = facts
        .recv()
        .expect("the world thread reports")
        .unwrap_or_else(|e| panic!("{e}"));
    (requests, expected)
}

fn expected(world: &World) -> Result<Expected, String> {
    let shadows = world.shadow_views();
    let [s] = shadows[..] else {
        return Err(format!(
            "one shadow copy left at the end, not {}",
            shadows.len()
        ));
    };
    let store = world.store();
    let vol = store.volume(s.volume);
    let bs = vol.block_size() as usize;
    let seqs = store
        .block_seqs(s.id, 0, vol.n_blocks())
        .map_err(|e| format!("{e:?}"))?;
    let mut image = vec![0u8; seqs.len() * bs];
    let mut changed = Vec::new();
    let mut digest = 0u64;
    let v = s.volume.idx() as u64;
    for (b, seq) in seqs.iter().enumerate() {
        let block = &mut image[b * bs..(b + 1) * bs];
        if let Some(q) = *seq {
            block_content(v, b as u64, q, block);
            digest = digest.wrapping_add(image_term(b as u64, q));
        }
        let live = vol.read_live(b as u64);
        if live != *seq {
            let mut now = vec![0u8; bs];
            if let Some(q) = live {
                block_content(v, b as u64, q, &mut now);
            }
            changed.push((b, now));
        }
    }
    // The sequences are the instant's: they sum to the digest the live volume had then.
    if Some(digest) != store.expected_digest(s.id) {
        return Err("block_seqs do not add up to the shadow's instant".into());
    }
    Ok(Expected {
        name: nbd::export_name(s.device),
        block_size: bs,
        written: seqs.iter().map(|q| q.is_some()).collect(),
        image,
        changed,
    })
}

fn qemu_img() -> &'static str {
    match Command::new("qemu-img").arg("--version").output() {
        Ok(out) if out.status.success() => "qemu-img",
        _ => panic!(
            "qemu-img is not installed: this test reads the NBD export with it; install Debian's \
             qemu-utils (`apt-get install -y qemu-utils`; .ci/run does)"
        ),
    }
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("qemu-img runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vss-sim-nbd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

#[test]
fn qemu_img_copies_a_shadow_copy_over_nbd_as_its_instant() {
    let qemu = qemu_img();
    let (requests, want) = world_thread();
    let dir = temp_dir();
    let socket = dir.join("nbd.sock");
    let listener = nbd::listen(socket.to_str().expect("a UTF-8 path"), requests)
        .expect("the NBD socket binds");
    assert_eq!(Path::new(listener.address()), socket);
    let url = format!("nbd+unix:///{}?socket={}", want.name, socket.display());

    let info = run(Command::new(qemu).args(["info", "--output=json", &url]));
    let info: serde_json::Value = serde_json::from_slice(&info).expect("qemu-img's JSON");
    assert_eq!(info["virtual-size"], want.image.len() as u64, "{info}");
    assert_eq!(want.image.len(), 64 << 20);

    // Block status (`base:allocation`) as qemu reads it: data exactly where the shadow holds
    // blocks, zero holes elsewhere.
    let map = run(Command::new(qemu).args(["map", "--output=json", &url]));
    let map: serde_json::Value = serde_json::from_slice(&map).expect("qemu-img's JSON");
    let mut data = vec![false; want.written.len()];
    let mut end = 0;
    for e in map.as_array().expect("a list of extents") {
        let (start, len) = (e["start"].as_u64().unwrap(), e["length"].as_u64().unwrap());
        assert_eq!(start, end, "consecutive extents: {e}");
        end = start + len;
        assert_ne!(e["data"], e["zero"], "data, or a zero hole: {e}");
        let bs = want.block_size as u64;
        for b in start / bs..end.div_ceil(bs) {
            data[b as usize] = e["data"] == true;
        }
    }
    assert_eq!(end, want.image.len() as u64);
    assert!(
        data == want.written,
        "qemu-img map's data extents are the written blocks"
    );
    let copy = dir.join("shadow.img");
    run(Command::new(qemu)
        .args(["convert", "-O", "raw", &url])
        .arg(&copy));
    let got = std::fs::read(&copy).expect("the copy");
    assert_eq!(
        got.len(),
        want.image.len(),
        "the copy has the export's size"
    );
    let bs = want.block_size;
    for (b, (g, w)) in got.chunks(bs).zip(want.image.chunks(bs)).enumerate() {
        assert!(g == w, "block {b} of the copy is not the shadow's instant");
    }
    // The workload wrote before the snapshot and after it: the copy is the instant, not now.
    assert!(
        want.written.contains(&true),
        "the shadow holds written blocks"
    );
    assert!(
        !want.changed.is_empty(),
        "the volume changed after the instant"
    );
    for (b, live) in &want.changed {
        assert!(
            &got[b * bs..(b + 1) * bs] != live.as_slice(),
            "block {b} reads as the live volume, not as the shadow"
        );
    }
    // An export that is not there is refused.
    let gone = format!(
        "nbd+unix:///HarddiskVolumeShadowCopy99?socket={}",
        socket.display()
    );
    let out = Command::new(qemu)
        .args(["info", &gone])
        .output()
        .expect("qemu-img runs");
    assert!(!out.status.success(), "no such export");
    // Stopped, the listener takes its socket file away.
    listener.stop().expect("the listener stops");
    assert!(!socket.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_world_thread_answers_waiting_requests_between_its_other_work() {
    let scenario = vss_sim_tests::inline(SCENARIO);
    let mut world = World::new(&scenario, 7, Trace::off());
    let (requests, waiting) = mpsc::channel::<NbdRequest>();
    assert_eq!(nbd::answer_waiting(&world, &waiting), 0, "nothing asked");
    world.run();
    let want = expected(&world).unwrap_or_else(|e| panic!("{e}"));
    let (reply, answers) = mpsc::channel();
    let read = |offset: u64, len: u32| NbdQuery::Read {
        name: want.name.clone(),
        offset,
        len,
    };
    for q in [NbdQuery::List, read(4096 * 3 + 7, 70_000)] {
        requests.send((q, reply.clone())).unwrap();
    }
    assert_eq!(nbd::answer_waiting(&world, &waiting), 2);
    let NbdAnswer::List(exports) = answers.recv().unwrap() else {
        panic!("a list")
    };
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].name, want.name);
    assert_eq!((exports[0].size, exports[0].block_size), (64 << 20, 4096));
    let from = 4096 * 3 + 7;
    assert_eq!(
        answers.recv().unwrap(),
        NbdAnswer::Read(Ok(want.image[from..from + 70_000].to_vec())),
        "a read across blocks, not aligned"
    );
    assert_eq!(
        nbd::answer(&world, &read(64 << 20, 1)),
        NbdAnswer::Read(Err(nbd::NBD_EINVAL))
    );
}
