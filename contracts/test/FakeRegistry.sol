// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title FakeRegistry
/// @notice TEST ONLY. Looks like a ProvenanceRegistry to a reader (same getVersion and VersionRegistered
/// event) but records whatever registration time it is told: the attack on evidence that takes a
/// version's time from the event's argument (or storage) instead of its block's timestamp.
contract FakeRegistry {
    struct Record {
        address registrant;
        uint64 registeredAt;
        bytes20 certificateTag;
    }

    mapping(bytes32 modelId => mapping(bytes32 digest => Record)) private _records;

    event VersionRegistered(
        bytes32 indexed modelId,
        bytes32 indexed digest,
        bytes32 indexed parent,
        bytes32 certificateHash,
        string manifestCid,
        address registrant,
        uint64 registeredAt
    );

    function registerBackdated(
        bytes32 modelId,
        bytes32 digest,
        bytes32 certificateHash,
        string calldata manifestCid,
        uint64 claimedAt
    ) external {
        _records[modelId][digest] = Record(msg.sender, claimedAt, bytes20(keccak256(abi.encode(certificateHash))));
        emit VersionRegistered(modelId, digest, bytes32(0), certificateHash, manifestCid, msg.sender, claimedAt);
    }

    function getVersion(bytes32 modelId, bytes32 digest)
        external
        view
        returns (address owner, uint64 registeredAt, uint64 revokedAt, bytes20 certificateTag)
    {
        Record memory r = _records[modelId][digest];
        return (r.registrant, r.registeredAt, 0, r.certificateTag);
    }
}
