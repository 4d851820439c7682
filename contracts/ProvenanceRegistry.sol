// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title ProvenanceRegistry
/// @notice Append-only, non-upgradeable registry of released ML model versions. A version is identified
/// by its 32-byte content digest (the model's weights digest) and belongs to a model namespace
/// (`bytes32 modelId`) owned by one address, which may grant maintainers. Each version names a parent
/// version of the same model (lineage), the hash of its public watermark certificate and an IPFS
/// manifest CID. Nothing is ever deleted: revocation only timestamps a version.
///
/// @dev Storage layout and what lives where (chosen so that `registerVersion` writes ONE new slot):
///
///   versions[digest] — one 256-bit word (struct `Version`), low to high bits:
///     bits   0..159  address registrant   (msg.sender, or the EIP-712 signer for registerVersionBySig)
///     bits 160..207  uint48  registeredAt (block.timestamp; non-zero iff the version exists;
///                                          uint48 seconds lasts ~8.9 million years)
///     bits 208..247  uint40  modelIndex   (1-based index of the model, see `models`; ~1.1e12 models)
///     bits 248..255  bool    revoked      (set once by revokeVersion)
///   revokedAt[digest] — uint64, written only by revokeVersion (a rare, second slot).
///
///   The parent digest, the certificate hash and the manifest CID are NOT stored: they are emitted in
///   `VersionRegistered` (modelId, digest and parent are indexed topics), so lineage is read from logs,
///   e.g. filter topic2 = digest to find a version's parent, topic3 = digest to find its children.
///   The contract still enforces the lineage rules at registration (parent exists, same model, not
///   revoked) from the stored word, so the logged lineage is valid by construction. Event logs are as
///   immutable as storage (committed in the block's receipts root), only not readable by contracts.
///   Storing the certificate hash as well would cost a second fresh slot (+22,100 gas per version).
///
///   models[modelId] — one word: address owner | uint40 index | uint56 maintainerEpoch.
///   modelIdByIndex[index] — the modelId for an index (written once, at createModel).
///   maintainers[modelId][epoch][account] — maintainer flags. Accepting an ownership transfer bumps the
///     epoch, which clears every maintainer at once: the new owner never inherits maintainers (or a
///     maintainer right the previous owner granted itself) that it cannot enumerate.
///   batches[root] — one word: uint64 anchoredAt | address anchorer | uint32 count.
///
/// Merkle batch leaf encoding (identical to OpenZeppelin's `StandardMerkleTree` with leaf types
/// ["bytes32","bytes32","bytes32","bytes32"]; double hashing prevents second-preimage attacks):
///     leaf = keccak256(bytes.concat(keccak256(abi.encode(modelId, digest, parent, certificateHash))))
/// Inner nodes hash the sorted pair: node = keccak256(abi.encodePacked(min(a, b), max(a, b))), which is
/// what `MerkleProof` verifies; see `batchLeaf`. A batch anchor only proves that its anchorer committed
/// to these records at `anchoredAt`; it does not register them nor imply the model owner's consent.
contract ProvenanceRegistry is EIP712, Nonces {
    /// @dev One storage word per version; see the contract-level layout notes.
    struct Version {
        address registrant;
        uint48 registeredAt;
        uint40 modelIndex;
        bool revoked;
    }

    /// @dev One storage word per model.
    struct Model {
        address owner;
        uint40 index;
        uint56 maintainerEpoch;
    }

    /// @dev One storage word per anchored batch.
    struct Batch {
        uint64 anchoredAt;
        address anchorer;
        uint32 count;
    }

    bytes32 public constant REGISTER_VERSION_TYPEHASH = keccak256(
        "RegisterVersion(address signer,bytes32 modelId,bytes32 digest,bytes32 parent,bytes32 certificateHash,bytes32 manifestCidHash,uint256 nonce,uint256 deadline)"
    );

    mapping(bytes32 digest => Version) private _versions;
    mapping(bytes32 digest => uint64) private _revokedAt;
    mapping(bytes32 modelId => Model) private _models;
    mapping(uint256 index => bytes32 modelId) private _modelIdByIndex;
    mapping(bytes32 modelId => address) private _pendingOwners;
    mapping(bytes32 modelId => mapping(uint256 epoch => mapping(address account => bool))) private _maintainers;
    mapping(bytes32 root => Batch) private _batches;

    /// @notice Number of models created (the highest model index).
    uint40 public modelCount;
    /// @notice Number of claims filed (the highest claim id; ids start at 1).
    uint256 public claimCount;

    event ModelCreated(bytes32 indexed modelId, address indexed owner, uint40 modelIndex);
    event MaintainerSet(bytes32 indexed modelId, address indexed account, bool allowed);
    event ModelOwnershipTransferStarted(bytes32 indexed modelId, address indexed owner, address indexed pendingOwner);
    event ModelOwnershipTransferred(bytes32 indexed modelId, address indexed previousOwner, address indexed newOwner);
    event VersionRegistered(
        bytes32 indexed modelId,
        bytes32 indexed digest,
        bytes32 indexed parent,
        bytes32 certificateHash,
        string manifestCid,
        address registrant,
        uint64 registeredAt
    );
    event VersionRevoked(bytes32 indexed digest, string reason, uint64 revokedAt);
    event BatchAnchored(bytes32 indexed root, address indexed anchorer, uint32 count, string manifestCid, uint64 anchoredAt);
    event ClaimFiled(
        bytes32 indexed modelId,
        bytes32 indexed digest,
        uint256 claimId,
        string suspectRef,
        string evidenceCid,
        bytes32 certificateHash,
        uint64 filedAt
    );

    error ZeroModelId();
    error ModelExists(bytes32 modelId);
    error UnknownModel(bytes32 modelId);
    error NotAuthorized(bytes32 modelId, address account);
    error NotPendingOwner(bytes32 modelId, address account);
    error ZeroDigest();
    error DuplicateDigest(bytes32 digest, uint64 registeredAt);
    error UnknownParent(bytes32 parent);
    error ParentOfOtherModel(bytes32 parent);
    error RevokedParent(bytes32 parent);
    error UnknownVersion(bytes32 digest);
    error AlreadyRevoked(bytes32 digest, uint64 revokedAt);
    error ExpiredSignature(uint256 deadline);
    error InvalidSignature(address signer);
    error ZeroRoot();
    error EmptyBatch();
    error DuplicateBatch(bytes32 root);

    constructor() EIP712("ProvenanceRegistry", "1") {}

    // ------------------------------------------------------------------ models

    /// @notice Creates the model namespace `modelId`, owned by the caller.
    function createModel(bytes32 modelId) external {
        if (modelId == bytes32(0)) revert ZeroModelId();
        if (_models[modelId].owner != address(0)) revert ModelExists(modelId);
        uint40 index = ++modelCount;
        _models[modelId] = Model(msg.sender, index, 0);
        _modelIdByIndex[index] = modelId;
        emit ModelCreated(modelId, msg.sender, index);
    }

    /// @notice Grants (`allowed` = true) or revokes a maintainer of `modelId`. Owner only.
    function setMaintainer(bytes32 modelId, address account, bool allowed) external {
        Model memory m = _ownedModel(modelId);
        _maintainers[modelId][m.maintainerEpoch][account] = allowed;
        emit MaintainerSet(modelId, account, allowed);
    }

    /// @notice Starts a two-step ownership transfer of `modelId`; `newOwner` must then call
    /// `acceptModelOwnership`. Passing the zero address cancels a pending transfer. Owner only.
    function transferModelOwnership(bytes32 modelId, address newOwner) external {
        Model memory m = _ownedModel(modelId);
        _pendingOwners[modelId] = newOwner;
        emit ModelOwnershipTransferStarted(modelId, m.owner, newOwner);
    }

    /// @notice Completes a transfer started by `transferModelOwnership`; callable by the pending owner
    /// only. Clears every maintainer of the model (a new maintainer epoch starts).
    function acceptModelOwnership(bytes32 modelId) external {
        if (_pendingOwners[modelId] != msg.sender || msg.sender == address(0)) {
            revert NotPendingOwner(modelId, msg.sender);
        }
        Model storage m = _models[modelId];
        address previous = m.owner;
        m.owner = msg.sender;
        unchecked {
            ++m.maintainerEpoch;
        }
        delete _pendingOwners[modelId];
        emit ModelOwnershipTransferred(modelId, previous, msg.sender);
    }

    // ---------------------------------------------------------------- versions

    /// @notice Registers version `digest` of model `modelId`. Caller must be the model's owner or a
    /// maintainer. `parent` is zero (a root version) or an existing, non-revoked version of the same
    /// model. `manifestCid` is only emitted, never stored.
    function registerVersion(
        bytes32 modelId,
        bytes32 digest,
        bytes32 parent,
        bytes32 certificateHash,
        string calldata manifestCid
    ) external {
        _register(modelId, digest, parent, certificateHash, manifestCid, msg.sender);
    }

    /// @notice Registers a version on behalf of `signer` (owner or maintainer of `modelId`), who signed the
    /// EIP-712 message `RegisterVersion(signer, modelId, digest, parent, certificateHash,
    /// keccak256(bytes(manifestCid)), nonces(signer), deadline)` for domain ("ProvenanceRegistry", "1",
    /// chainid, this). Anyone (a relayer) may submit it and pay the gas; `signer` is recorded as the
    /// registrant. Contract wallets are supported through ERC-1271. Each signature is usable once.
    /// The signer is part of the signed data, so a signature for one ERC-1271 wallet cannot be
    /// submitted for another wallet that shares its owner key.
    function registerVersionBySig(
        bytes32 modelId,
        bytes32 digest,
        bytes32 parent,
        bytes32 certificateHash,
        string calldata manifestCid,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (block.timestamp > deadline) revert ExpiredSignature(deadline);
        bytes32 structHash = keccak256(
            abi.encode(
                REGISTER_VERSION_TYPEHASH,
                signer,
                modelId,
                digest,
                parent,
                certificateHash,
                keccak256(bytes(manifestCid)),
                _useNonce(signer),
                deadline
            )
        );
        if (
            signer == address(0)
                || !SignatureChecker.isValidSignatureNowCalldata(signer, _hashTypedDataV4(structHash), signature)
        ) {
            revert InvalidSignature(signer);
        }
        _register(modelId, digest, parent, certificateHash, manifestCid, signer);
    }

    /// @notice Marks version `digest` revoked (once; it stays registered). Model owner or maintainer only.
    function revokeVersion(bytes32 digest, string calldata reason) external {
        Version storage v = _versions[digest];
        if (v.registeredAt == 0) revert UnknownVersion(digest);
        bytes32 modelId = _modelIdByIndex[v.modelIndex];
        _authorize(modelId, msg.sender);
        if (v.revoked) revert AlreadyRevoked(digest, _revokedAt[digest]);
        uint64 ts = uint64(block.timestamp);
        v.revoked = true;
        _revokedAt[digest] = ts;
        emit VersionRevoked(digest, reason, ts);
    }

    /// @notice The stored part of version `digest`; all zero if it was never registered. The parent and
    /// certificate hash are in the `VersionRegistered` log for `digest` (see the layout notes).
    function getVersion(bytes32 digest)
        external
        view
        returns (bytes32 modelId, address registrant, uint64 registeredAt, uint64 revokedAt)
    {
        Version memory v = _versions[digest];
        if (v.registeredAt == 0) return (bytes32(0), address(0), 0, 0);
        return (_modelIdByIndex[v.modelIndex], v.registrant, v.registeredAt, _revokedAt[digest]);
    }

    // ----------------------------------------------------------------- batches

    /// @notice Anchors the Merkle root of a batch of `count` version records (leaf encoding: see
    /// `batchLeaf`). Anyone may anchor; each root once.
    function anchorBatch(bytes32 root, uint32 count, string calldata manifestCid) external {
        if (root == bytes32(0)) revert ZeroRoot();
        if (count == 0) revert EmptyBatch();
        if (_batches[root].anchoredAt != 0) revert DuplicateBatch(root);
        uint64 ts = uint64(block.timestamp);
        _batches[root] = Batch(ts, msg.sender, count);
        emit BatchAnchored(root, msg.sender, count, manifestCid, ts);
    }

    /// @notice Who anchored `root`, when, and how many records it commits to (all zero if never).
    function getBatch(bytes32 root) external view returns (uint64 anchoredAt, address anchorer, uint32 count) {
        Batch memory b = _batches[root];
        return (b.anchoredAt, b.anchorer, b.count);
    }

    /// @notice True iff `root` was anchored and `proof` proves `leaf` is in its tree (sorted-pair keccak).
    function verifyBatchRecord(bytes32 root, bytes32 leaf, bytes32[] calldata proof) external view returns (bool) {
        return _batches[root].anchoredAt != 0 && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @notice The batch leaf for a record: keccak256(bytes.concat(keccak256(abi.encode(modelId, digest,
    /// parent, certificateHash)))).
    function batchLeaf(bytes32 modelId, bytes32 digest, bytes32 parent, bytes32 certificateHash)
        external
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(modelId, digest, parent, certificateHash))));
    }

    // ------------------------------------------------------------------ claims

    /// @notice Files a theft claim against `suspectRef` for registered version `digest`. Model owner or
    /// maintainer only. Only the claim counter is stored; the claim itself is the `ClaimFiled` log.
    function fileClaim(
        bytes32 digest,
        string calldata suspectRef,
        string calldata evidenceCid,
        bytes32 certificateHash
    ) external returns (uint256 claimId) {
        Version memory v = _versions[digest];
        if (v.registeredAt == 0) revert UnknownVersion(digest);
        bytes32 modelId = _modelIdByIndex[v.modelIndex];
        _authorize(modelId, msg.sender);
        claimId = ++claimCount;
        emit ClaimFiled(modelId, digest, claimId, suspectRef, evidenceCid, certificateHash, uint64(block.timestamp));
    }

    // ------------------------------------------------------------------- views

    /// @notice Owner of `modelId` (zero if it does not exist).
    function modelOwner(bytes32 modelId) external view returns (address) {
        return _models[modelId].owner;
    }

    /// @notice Pending owner of `modelId` in a two-step transfer (zero if none).
    function pendingModelOwner(bytes32 modelId) external view returns (address) {
        return _pendingOwners[modelId];
    }

    /// @notice Whether `account` is currently a maintainer of `modelId`.
    function isMaintainer(bytes32 modelId, address account) external view returns (bool) {
        return _maintainers[modelId][_models[modelId].maintainerEpoch][account];
    }

    /// @notice The EIP-712 domain separator for this chain.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- internal

    function _register(
        bytes32 modelId,
        bytes32 digest,
        bytes32 parent,
        bytes32 certificateHash,
        string calldata manifestCid,
        address registrant
    ) private {
        if (digest == bytes32(0)) revert ZeroDigest();
        uint40 modelIndex = _authorize(modelId, registrant);
        Version storage v = _versions[digest];
        uint48 existing = v.registeredAt;
        if (existing != 0) revert DuplicateDigest(digest, existing);
        if (parent != bytes32(0)) {
            Version memory p = _versions[parent];
            if (p.registeredAt == 0) revert UnknownParent(parent);
            if (p.modelIndex != modelIndex) revert ParentOfOtherModel(parent);
            if (p.revoked) revert RevokedParent(parent);
        }
        uint48 ts = uint48(block.timestamp);
        _versions[digest] = Version(registrant, ts, modelIndex, false);
        emit VersionRegistered(modelId, digest, parent, certificateHash, manifestCid, registrant, ts);
    }

    /// @dev Reverts unless `account` is the owner or a maintainer of existing model `modelId`;
    /// returns the model's index.
    function _authorize(bytes32 modelId, address account) private view returns (uint40) {
        Model memory m = _models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
        if (m.owner != account && !_maintainers[modelId][m.maintainerEpoch][account]) {
            revert NotAuthorized(modelId, account);
        }
        return m.index;
    }

    /// @dev Reverts unless the caller owns existing model `modelId`; returns the model.
    function _ownedModel(bytes32 modelId) private view returns (Model memory m) {
        m = _models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
        if (m.owner != msg.sender) revert NotAuthorized(modelId, msg.sender);
    }
}
