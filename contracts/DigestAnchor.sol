// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title DigestAnchor
/// @notice Records the first time a 32-byte digest (a model's weights digest, a certificate hash)
/// was seen on chain, and by whom. Append-only: a digest is anchored once and never changes.
contract DigestAnchor {
    struct Anchor {
        address anchorer;
        uint64 timestamp;
    }

    mapping(bytes32 digest => Anchor) private anchors;

    event Anchored(bytes32 indexed digest, address indexed anchorer, uint64 timestamp);

    error ZeroDigest();
    error AlreadyAnchored(bytes32 digest, uint64 timestamp);

    function anchor(bytes32 digest) external {
        if (digest == bytes32(0)) revert ZeroDigest();
        Anchor storage a = anchors[digest];
        if (a.timestamp != 0) revert AlreadyAnchored(digest, a.timestamp);
        uint64 ts = uint64(block.timestamp);
        anchors[digest] = Anchor(msg.sender, ts);
        emit Anchored(digest, msg.sender, ts);
    }

    /// @return anchorer who anchored `digest` (zero if never), and when (zero if never).
    function anchorOf(bytes32 digest) external view returns (address anchorer, uint64 timestamp) {
        Anchor storage a = anchors[digest];
        return (a.anchorer, a.timestamp);
    }
}
