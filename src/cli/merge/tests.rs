use super::*;

fn ident() -> Identity {
    Identity {
        version: "0.1.0".into(),
        scenario: "quick-start".into(),
        scenario_hash: 0xabc,
        seed: 1,
        replications: 2,
        keys: vec!["clients.rate".into(), "servers.web.slots".into()],
        values: vec![
            vec!["300/s".into(), "400/s".into(), "500/s".into()],
            vec!["3".into(), "4".into()],
        ],
        algorithms: vec!["round-robin".into(), "least-connections".into()],
        points: 6,
        sweep_hash: 0x1234,
    }
}

#[test]
fn an_identity_reads_back_what_it_wrote() {
    let id = ident();
    assert_eq!(Identity::parse(&id.to_toml()), Ok(id.clone()));
    // A seed that is no TOML integer is written as a string and read back.
    let big = Identity {
        seed: u64::MAX,
        ..id
    };
    assert!(big.to_toml().contains("seed = \"18446744073709551615\""));
    assert_eq!(Identity::parse(&big.to_toml()), Ok(big));
}

#[test]
fn an_unreadable_or_older_identity_says_why() {
    let old = "scenario = \"quick-start\"\nsweep_hash = \"fnv1a64:0000000000000001\"\npoints = 2\nkeys = [\"k\"]\nalgorithms = [\"random\"]\n";
    assert!(Identity::parse(old).unwrap_err().contains("older lblab"));
    let text = ident().to_toml().replace("points = 6", "points = 7");
    assert!(Identity::parse(&text).unwrap_err().contains("do not agree"));
    let text = ident().to_toml().replace("seed = 1", "seed = \"one\"");
    assert!(Identity::parse(&text).unwrap_err().contains("`seed`"));
    assert!(
        Identity::parse("x = [")
            .unwrap_err()
            .contains("not valid TOML")
    );
}

#[test]
fn the_first_differing_field_is_named() {
    let a = ident();
    assert_eq!(a.diff(&a), None);
    let cases: Vec<(Identity, &str, &str, &str)> = vec![
        (
            Identity {
                version: "0.2.0".into(),
                scenario_hash: 1,
                ..ident()
            },
            "lblab version",
            "0.1.0",
            "0.2.0",
        ),
        (
            Identity {
                scenario_hash: 0xdef,
                seed: 9,
                ..ident()
            },
            "scenario digest",
            "fnv1a64:0000000000000abc",
            "fnv1a64:0000000000000def",
        ),
        (Identity { seed: 9, ..ident() }, "seed", "1", "9"),
        (
            Identity {
                replications: 5,
                ..ident()
            },
            "replications",
            "2",
            "5",
        ),
        (
            Identity {
                values: vec![
                    vec!["300/s".into(), "400/s".into(), "500/s".into()],
                    vec!["3".into(), "8".into()],
                ],
                ..ident()
            },
            "values of servers.web.slots",
            "3,4",
            "3,8",
        ),
        (
            Identity {
                algorithms: vec!["random".into()],
                ..ident()
            },
            "algorithms",
            "round-robin,least-connections",
            "random",
        ),
        (
            Identity {
                sweep_hash: 7,
                ..ident()
            },
            "sweep hash",
            "fnv1a64:0000000000001234",
            "fnv1a64:0000000000000007",
        ),
    ];
    for (b, what, x, y) in cases {
        let d = a.diff(&b).unwrap();
        assert_eq!((d.what.as_str(), d.a.as_str(), d.b.as_str()), (what, x, y));
    }
}

fn part(dir: &str, shard: (usize, usize), have: usize, mine: usize) -> Part {
    Part {
        dir: PathBuf::from(dir),
        ident_text: String::new(),
        ident: ident(),
        shard,
        manifest: None,
        have,
        mine,
    }
}

#[test]
fn missing_doubled_unfinished_and_mixed_shards_are_named() {
    // Shards 2 and 4 of 5 missing; shard 3 given twice; shard 1 unfinished.
    let parts = [
        part("s1", (1, 5), 1, 2),
        part("s3", (3, 5), 1, 1),
        part("s3b", (3, 5), 1, 1),
        part("s5", (5, 5), 1, 1),
    ];
    assert_eq!(
        shard_problems(&parts),
        [
            "shard 3/5 given twice: s3 and s3b",
            "shard 1/5 in s1 has 1 of its 2 points: rerun it with --resume",
            "shards 2, 4 of 5 missing: run them with --shard K/5, then merge again",
        ]
    );
    let parts = [part("a", (1, 2), 3, 3), part("b", (2, 4), 2, 2)];
    let p = shard_problems(&parts);
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("a holds shard 1/2 and b shard 2/4"), "{p:?}");
    // All there.
    let parts = [part("b", (2, 2), 3, 3), part("a", (1, 2), 3, 3)];
    assert!(shard_problems(&parts).is_empty());
    // A complete whole sweep needs no shards; an unfinished one is named.
    assert!(shard_problems(&[part("w", (1, 1), 6, 6), part("b", (2, 2), 3, 3)]).is_empty());
    assert_eq!(
        shard_problems(&[part("w", (1, 1), 4, 6)]),
        ["the sweep in w has 4 of its 6 points: rerun it with --resume"]
    );
}

#[test]
fn manifests_are_compared_but_for_the_command_and_the_file_path() {
    let m = |cmd: &str, file: &str, version: &str| {
        format!(
            "lblab_version = \"{version}\"\ncommand = \"{cmd}\"\nscenario_file = \"{file}\"\nseed = 1\n\n[[variants]]\nlabel = \"x\"\n"
        )
    };
    let a = m("lblab sweep --shard 1/2", "a/s.toml", "0.1.0 (commit 1)");
    let b = m("lblab sweep --shard 2/2", "/b/s.toml", "0.1.0 (commit 1)");
    assert_eq!(manifest_diff(&a, &b), Ok(None));
    let c = m("lblab sweep --shard 2/2", "a/s.toml", "0.1.0 (commit 2)");
    assert_eq!(
        manifest_diff(&a, &c),
        Ok(Some((
            "lblab_version".into(),
            "\"0.1.0 (commit 1)\"".into(),
            "\"0.1.0 (commit 2)\"".into()
        )))
    );
    assert!(manifest_diff(&a, "x = [").is_err());
}

#[test]
fn a_shard_file_names_its_shard_and_holds_the_manifest() {
    let dir = std::env::temp_dir().join(format!("lblab-merge-unit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("points")).unwrap();
    std::fs::write(dir.join("sweep.toml"), ident().to_toml()).unwrap();
    let manifest = "# Written by lblab\ncommand = \"lblab sweep\"\n";
    std::fs::write(dir.join("shard.toml"), shard_toml(2, 4, manifest)).unwrap();
    // Shard 2/4 of 6 points holds points 1 and 5.
    std::fs::write(point_file(&dir, 5), "x\n").unwrap();
    let p = read_part(&dir).unwrap();
    assert_eq!(p.shard, (2, 4));
    assert_eq!((p.have, p.mine), (1, 2));
    assert_eq!(p.manifest, Some((manifest.to_string(), "shard.toml")));
    std::fs::write(dir.join("shard.toml"), "shard = 3\n").unwrap();
    match read_part(&dir) {
        Err(CliError::Input(m)) => assert!(m.contains("shard.toml has no `shard"), "{m}"),
        _ => panic!("a bad shard.toml was accepted"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
