// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title ProvenanceRegistry
/// @notice Append-only, non-upgradeable registry of released ML model versions. A model namespace is
/// `modelId = keccak256(abi.encode(creator, nameHash))`: derived from the address that created it, so a
/// name is never first-come across accounts. A version is identified by its 32-byte content digest (the
/// model's files digest) WITHIN its namespace: the same digest may be registered in many namespaces, and
/// a verifier asks "is this digest registered in the namespace of the owner I expect?". The namespace's
/// owner may grant maintainers and hand it over in two steps. Each version names a parent version of the
/// same model (lineage), the hash of its public watermark certificate and an IPFS manifest CID. Nothing
/// is ever deleted: revocation only timestamps a version.
///
/// Front-running: every write is keyed by its sender's namespace (or, for batches, by the anchorer), so a
/// copy of a pending transaction sent from another account either reverts (NotAuthorized) or writes into
/// the copier's own namespace, which no verifier that checks the expected owner trusts. The owner's
/// transaction still succeeds. See docs/ledger.md, "Threat model".
///
/// @dev Storage layout and what lives where (chosen so that `registerVersion` writes ONE new slot):
///
///   versions[modelId][digest] — one 256-bit word (struct `Version`), low to high bits:
///     bits   0..47   uint48  registeredAt   (block.timestamp; non-zero iff the version exists;
///                                            uint48 seconds lasts ~8.9 million years)
///     bits  48..95   uint48  revokedAt      (set once by revokeVersion; zero while not revoked)
///     bits  96..255  bytes20 certificateTag (bytes20(keccak256(abi.encode(certificateHash))))
///
///   The registrant, the parent digest, the full certificate hash and the manifest CID are NOT stored:
///   they are emitted in `VersionRegistered` (modelId, digest and parent are indexed topics), so lineage
///   is read from logs. The contract still enforces the lineage rules at registration (parent exists in
///   the same namespace, not revoked), so the logged lineage is valid by construction. Event logs are as
///   immutable as storage (committed in the block's receipts root), only not readable by contracts.
///   The certificate tag is kept so that `fileClaim` can refuse a claim citing another certificate;
///   160 bits of a hash (an address's worth) keep another certificate hash with the same tag out of reach
///   (2^160 work; 2^80 for an owner who prepares a colliding pair before registering). The tag hashes
///   the certificate hash rather than truncating it, so hashes that differ only in their dropped bits
///   do not share a tag. Storing the full hash would cost a second fresh slot (+22,100 gas per version).
///
///   models[modelId] — one word: address owner | uint56 maintainerEpoch.
///   maintainers[modelId][epoch][account] — maintainer flags. Accepting an ownership transfer bumps the
///     epoch, which clears every maintainer at once: the new owner never inherits maintainers (or a
///     maintainer right the previous owner granted itself) that it cannot enumerate.
///   batches[anchorer][root] — one word: uint64 anchoredAt | uint32 count. Keyed by the anchorer, so
///     anchoring a root someone else anchored first still succeeds (and proves nothing about them).
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
        uint48 registeredAt;
        uint48 revokedAt;
        bytes20 certificateTag;
    }

    /// @dev One storage word per model.
    struct Model {
        address owner;
        uint56 maintainerEpoch;
    }

    /// @dev One storage word per anchored batch (the anchorer is the key).
    struct Batch {
        uint64 anchoredAt;
        uint32 count;
    }

    bytes32 public constant REGISTER_VERSION_TYPEHASH = keccak256(
        "RegisterVersion(address signer,bytes32 modelId,bytes32 digest,bytes32 parent,bytes32 certificateHash,bytes32 manifestCidHash,uint256 nonce,uint256 deadline)"
    );

    mapping(bytes32 modelId => mapping(bytes32 digest => Version)) private _versions;
    mapping(bytes32 modelId => Model) private _models;
    mapping(bytes32 modelId => address) private _pendingOwners;
    mapping(bytes32 modelId => mapping(uint256 epoch => mapping(address account => bool))) private _maintainers;
    mapping(address anchorer => mapping(bytes32 root => Batch)) private _batches;

    /// @notice Number of claims filed (the highest claim id; ids start at 1).
    uint256 public claimCount;

    event ModelCreated(bytes32 indexed modelId, address indexed owner, bytes32 indexed nameHash);
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
    event VersionRevoked(
        bytes32 indexed modelId, bytes32 indexed digest, address indexed revoker, string reason, uint64 revokedAt
    );
    event BatchAnchored(bytes32 indexed root, address indexed anchorer, uint32 count, string manifestCid, uint64 anchoredAt);
    event ClaimFiled(
        bytes32 indexed modelId,
        bytes32 indexed digest,
        address indexed filer,
        uint256 claimId,
        string suspectRef,
        string evidenceCid,
        bytes32 certificateHash,
        uint64 filedAt
    );

    error ZeroName();
    error ModelExists(bytes32 modelId);
    error UnknownModel(bytes32 modelId);
    error NotAuthorized(bytes32 modelId, address account);
    error NotPendingOwner(bytes32 modelId, address account);
    error ZeroDigest();
    error DuplicateDigest(bytes32 modelId, bytes32 digest, uint64 registeredAt);
    error UnknownParent(bytes32 parent);
    error RevokedParent(bytes32 parent);
    error UnknownVersion(bytes32 modelId, bytes32 digest);
    error AlreadyRevoked(bytes32 modelId, bytes32 digest, uint64 revokedAt);
    error CertificateMismatch(bytes32 modelId, bytes32 digest, bytes32 certificateHash);
    error ExpiredSignature(uint256 deadline);
    error InvalidSignature(address signer);
    error ZeroRoot();
    error EmptyBatch();
    error DuplicateBatch(address anchorer, bytes32 root);

    constructor() EIP712("ProvenanceRegistry", "1") {}

    // ------------------------------------------------------------------ models

    /// @notice The id of the namespace `creator` gets for `nameHash` (provmark uses
    /// nameHash = keccak256("provmark/model/v1:" + name)).
    function modelIdOf(address creator, bytes32 nameHash) public pure returns (bytes32) {
        return keccak256(abi.encode(creator, nameHash));
    }

    /// @notice Creates the caller's model namespace `modelIdOf(msg.sender, nameHash)`, owned by the caller.
    function createModel(bytes32 nameHash) external returns (bytes32 modelId) {
        if (nameHash == bytes32(0)) revert ZeroName();
        modelId = modelIdOf(msg.sender, nameHash);
        if (_models[modelId].owner != address(0)) revert ModelExists(modelId);
        _models[modelId] = Model(msg.sender, 0);
        emit ModelCreated(modelId, msg.sender, nameHash);
    }

    /// @notice Grants (`allowed` = true) or revokes a maintainer of `modelId`. Owner only.
    function setMaintainer(bytes32 modelId, address account, bool allowed) external {
        Model memory m = _ownedModel(modelId);
        _maintainers[modelId][m.maintainerEpoch][account] = allowed;
        emit MaintainerSet(modelId, account, allowed);
    }

    /// @notice Starts a two-step ownership transfer of `modelId`; `newOwner` must then call
    /// `acceptModelOwnership`. Passing the zero address cancels a pending transfer. Owner only.
    /// The model id stays what it was (it names the creator, not the current owner).
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
    /// submitted for another wallet that shares its owner key. A copier who submits the signature
    /// first only pays the gas of the owner's registration: the modelId is signed.
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

    /// @notice Marks version `digest` of `modelId` revoked (once; it stays registered). Model owner or
    /// maintainer only. The log carries the model id and the revoker as topics, so a model's history is
    /// rebuilt without scanning every revocation.
    function revokeVersion(bytes32 modelId, bytes32 digest, string calldata reason) external {
        Version storage v = _versions[modelId][digest];
        if (v.registeredAt == 0) revert UnknownVersion(modelId, digest);
        _authorize(modelId, msg.sender);
        uint48 revoked = v.revokedAt;
        if (revoked != 0) revert AlreadyRevoked(modelId, digest, revoked);
        uint48 ts = uint48(block.timestamp);
        v.revokedAt = ts;
        emit VersionRevoked(modelId, digest, msg.sender, reason, ts);
    }

    /// @notice The stored part of version `digest` in `modelId` (all zero if it was never registered there),
    /// with the model's current owner. The registrant, parent and full certificate hash are in the
    /// `VersionRegistered` log for (modelId, digest).
    function getVersion(bytes32 modelId, bytes32 digest)
        external
        view
        returns (address owner, uint64 registeredAt, uint64 revokedAt, bytes20 certificateTag)
    {
        Version memory v = _versions[modelId][digest];
        if (v.registeredAt == 0) return (address(0), 0, 0, bytes20(0));
        return (_models[modelId].owner, v.registeredAt, v.revokedAt, v.certificateTag);
    }

    // ----------------------------------------------------------------- batches

    /// @notice Anchors, as the caller, the Merkle root of a batch of `count` version records (leaf encoding:
    /// see `batchLeaf`). Anyone may anchor; each root once per anchorer.
    function anchorBatch(bytes32 root, uint32 count, string calldata manifestCid) external {
        if (root == bytes32(0)) revert ZeroRoot();
        if (count == 0) revert EmptyBatch();
        Batch storage b = _batches[msg.sender][root];
        if (b.anchoredAt != 0) revert DuplicateBatch(msg.sender, root);
        uint64 ts = uint64(block.timestamp);
        b.anchoredAt = ts;
        b.count = count;
        emit BatchAnchored(root, msg.sender, count, manifestCid, ts);
    }

    /// @notice When `anchorer` anchored `root` and how many records it commits to (all zero if never).
    function getBatch(address anchorer, bytes32 root) external view returns (uint64 anchoredAt, uint32 count) {
        Batch memory b = _batches[anchorer][root];
        return (b.anchoredAt, b.count);
    }

    /// @notice True iff `anchorer` anchored `root` and `proof` proves `leaf` is in its tree (sorted-pair keccak).
    function verifyBatchRecord(address anchorer, bytes32 root, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        return _batches[anchorer][root].anchoredAt != 0 && MerkleProof.verifyCalldata(proof, root, leaf);
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

    /// @notice Files a theft claim against `suspectRef` for registered version `digest` of `modelId`. Model
    /// owner or maintainer only; `certificateHash` must be the version's own (its tag must match), so a
    /// claim cannot borrow another release's watermark. Only the claim counter is stored; the claim itself
    /// is the `ClaimFiled` log, which names the filer.
    function fileClaim(
        bytes32 modelId,
        bytes32 digest,
        string calldata suspectRef,
        string calldata evidenceCid,
        bytes32 certificateHash
    ) external returns (uint256 claimId) {
        Version memory v = _versions[modelId][digest];
        if (v.registeredAt == 0) revert UnknownVersion(modelId, digest);
        _authorize(modelId, msg.sender);
        if (v.certificateTag != _certificateTag(certificateHash)) revert CertificateMismatch(modelId, digest, certificateHash);
        claimId = ++claimCount;
        emit ClaimFiled(
            modelId, digest, msg.sender, claimId, suspectRef, evidenceCid, certificateHash, uint64(block.timestamp)
        );
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
        _authorize(modelId, registrant);
        mapping(bytes32 => Version) storage versions = _versions[modelId];
        uint48 existing = versions[digest].registeredAt;
        if (existing != 0) revert DuplicateDigest(modelId, digest, existing);
        if (parent != bytes32(0)) {
            // Looked up in this namespace only: another model's version is simply unknown here.
            Version memory p = versions[parent];
            if (p.registeredAt == 0) revert UnknownParent(parent);
            if (p.revokedAt != 0) revert RevokedParent(parent);
        }
        uint48 ts = uint48(block.timestamp);
        versions[digest] = Version(ts, 0, _certificateTag(certificateHash));
        emit VersionRegistered(modelId, digest, parent, certificateHash, manifestCid, registrant, ts);
    }

    /// @dev What a version stores of its certificate hash; see the layout notes.
    function _certificateTag(bytes32 certificateHash) private pure returns (bytes20) {
        return bytes20(keccak256(abi.encode(certificateHash)));
    }

    /// @dev Reverts unless `account` is the owner or a maintainer of existing model `modelId`.
    function _authorize(bytes32 modelId, address account) private view {
        Model memory m = _models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
        if (m.owner != account && !_maintainers[modelId][m.maintainerEpoch][account]) {
            revert NotAuthorized(modelId, account);
        }
    }

    /// @dev Reverts unless the caller owns existing model `modelId`; returns the model.
    function _ownedModel(bytes32 modelId) private view returns (Model memory m) {
        m = _models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
        if (m.owner != msg.sender) revert NotAuthorized(modelId, msg.sender);
    }
}
