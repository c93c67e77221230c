//! The audit forwarder's cursors: a destination is added once (with its event), one holder at a
//! time moves a cursor (the lease), a cursor moves only forward from where the holder read it,
//! and events come oldest first after the cursor.

use domain::ports::forwarding::ForwardStore;
use domain::ports::Store;

use crate::support::{draft, TestBackend};

const DEST: &str = "tls://siem.example.com:6514";

store_test!(a_destination_is_added_once_and_leased_to_one_holder_at_a_time);
async fn a_destination_is_added_once_and_leased_to_one_holder_at_a_time(db: &TestBackend) {
    assert!(db
        .add_forward_destination(DEST, draft("audit.forwarding_added"))
        .await
        .expect("add"));
    assert!(
        !db.add_forward_destination(DEST, draft("audit.forwarding_added"))
            .await
            .expect("add again"),
        "a known destination is not added twice"
    );
    for action in ["a", "b", "c"] {
        db.record(draft(action)).await.expect("event");
    }
    db.assert_audit(&["audit.forwarding_added", "a", "b", "c"])
        .await;

    // A takes the lease; B cannot while it runs.
    let a = db
        .claim_forwarding(DEST, "A", 1_000, 15_000)
        .await
        .expect("claim")
        .expect("free: A holds it");
    assert_eq!((a.sent_seq, a.holder.as_deref()), (0, Some("A")));
    let other = db.second_writer().await;
    assert_eq!(
        other
            .claim_forwarding(DEST, "B", 2_000, 15_000)
            .await
            .expect("claim"),
        None
    );
    assert_eq!(
        db.claim_forwarding("tcp://unknown:514", "A", 1_000, 15_000)
            .await
            .expect("claim"),
        None,
        "no cursor for a destination never added"
    );

    // Events after the cursor, oldest first, at most `limit`.
    let batch = db.audit_after(0, 2).await.expect("after");
    assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert!(db
        .advance_forwarding(DEST, "A", 0, 2, 3_000)
        .await
        .expect("advance"));
    assert!(
        !db.advance_forwarding(DEST, "A", 0, 4, 3_000)
            .await
            .expect("advance"),
        "a cursor moves only from where it was read"
    );
    assert!(
        !other
            .advance_forwarding(DEST, "B", 2, 4, 3_000)
            .await
            .expect("advance"),
        "only the holder moves it"
    );
    db.note_forwarding_error(DEST, "A", "connecting: refused", 4_000)
        .await
        .expect("error");
    other
        .note_forwarding_error(DEST, "B", "not the holder", 4_000)
        .await
        .expect("error");
    let c = &db.forward_cursors().await.expect("cursors")[0];
    assert_eq!(
        (
            c.sent_seq,
            c.sent_at_ms,
            c.last_error.as_deref(),
            c.last_error_at_ms
        ),
        (2, Some(3_000), Some("connecting: refused"), Some(4_000))
    );
    assert_eq!(
        db.audit_after(2, 100)
            .await
            .expect("after")
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        vec!["b", "c"]
    );

    // A's lease runs out: B takes over from the cursor, and A can no longer move it.
    let b = other
        .claim_forwarding(DEST, "B", 16_001, 15_000)
        .await
        .expect("claim")
        .expect("expired: B holds it");
    assert_eq!(b.sent_seq, 2);
    assert!(!db
        .advance_forwarding(DEST, "A", 2, 4, 16_002)
        .await
        .expect("advance"));
    assert!(other
        .advance_forwarding(DEST, "B", 2, 4, 16_002)
        .await
        .expect("advance"));
    let c = &db.forward_cursors().await.expect("cursors")[0];
    assert_eq!(
        (c.sent_seq, c.last_error.as_deref()),
        (4, None),
        "a move clears the error"
    );

    // Released at shutdown, it is free at once.
    other.release_forwarding(DEST, "B").await.expect("release");
    assert!(db
        .claim_forwarding(DEST, "A", 16_003, 15_000)
        .await
        .expect("claim")
        .is_some());
    db.assert_audit(&["audit.forwarding_added", "a", "b", "c"])
        .await;
}
