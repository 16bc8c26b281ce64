namespace MirpsExchange.Node;

/// <summary>Configuration section "Node" (appsettings.json or environment variables such as Node__Country).</summary>
public sealed class NodeOptions
{
    public const string Section = "Node";

    /// <summary>ISO 3166-1 alpha-3 of the State this node belongs to; the only country it accepts writes for.</summary>
    public string Country { get; set; } = "";

    /// <summary>Folder of the SQLite store (node-{country}.db); ignored when ConnectionStrings:Store is set.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>
    /// The identity server's issuer URL exactly as its tokens carry it (trailing slash included). The node
    /// fetches its signing keys from there and validates every token locally.
    /// </summary>
    public string Issuer { get; set; } = "";

    /// <summary>
    /// How often the node fetches the identity server's signed revocation list (at most 00:00:59): a revoked
    /// credential's or compromised key's tokens are refused here within this interval plus one second.
    /// </summary>
    public TimeSpan RevocationPollInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a pull waits for the next message while the peer says it holds more of the origin's log than this
    /// node does: then the pull is reported failing (PEER_STALLED) and tried again, so a peer that keeps its
    /// stream open and sends nothing does not pass for a healthy one. A pull's connection is also pinged (HTTP/2 PING) after this
    /// long without traffic, and given up when the ping goes unanswered this long: a half-open connection is left within twice this.
    /// </summary>
    public TimeSpan PeerStallTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How long the oldest change a peer holds may wait, not yet applied here, before the node's "peers" health check
    /// reports it degraded (the lag is also in `mirps sync status` and the mirps.sync.peer.lag.* metrics).
    /// </summary>
    public TimeSpan PeerLagThreshold { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Recovery from the federation required at start (README, "Backup and recovery"): the node asks Node:Peers what they
    /// hold of its own log and takes what it lacks (verified against its published log keys) before it accepts a write;
    /// with no peer answering it keeps refusing writes. Without it the same check runs anyway, but a peer that does not
    /// answer is passed over.
    /// </summary>
    public bool Recover { get; set; }

    /// <summary>
    /// The one peer (a Node:Peers address) to recover the node's own log from; refused (RECOVERY_SOURCE_BEHIND, nothing
    /// written) when another peer holds more of it. Empty: the peer that holds most.
    /// </summary>
    public string RecoverFrom { get; set; } = "";

    /// <summary>
    /// SQLite's synchronous setting for the State's own commits: FULL (the default) syncs the WAL at every commit, so an
    /// acknowledged submit survives power loss; NORMAL survives a process crash only (an OS crash may lose the last commits,
    /// which the node then recovers from its replicas at its next start, if they hold them). For measuring FULL's cost.
    /// </summary>
    public string SubmitSynchronous { get; set; } = "FULL";

    /// <summary>How long the start-up check waits for each peer's answer.</summary>
    public TimeSpan RecoveryCheckTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often a node whose writes wait for a recovery (Node:Recover, a restored store) asks its peers again while no quorum
    /// proves its log's head (the Secretariat unreachable, or holding none of the log: RECOVERY_QUORUM_MISSING, RECOVERY_NO_SIGNED_HEAD).
    /// </summary>
    public TimeSpan RecoveryRetryInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The operator's way out for a restored store (or Node:Recover) of a State whose log no peer holds any of (it never shared
    /// anything, so nothing signed can prove its head): accept the store's own head. Still only once a quorum answered (the
    /// Secretariat among them) and none of them shows a head of the State's log signed beyond the store's; refused, logged,
    /// when one does (the node then recovers up to it). Set it for the one start after the restore, then remove it.
    /// </summary>
    public bool AcceptLocalHead { get; set; }

    /// <summary>How often a pull asks its peer for the origin's new lifecycle entries (approvals; ApprovalService.ListLifecycleEntries).</summary>
    public TimeSpan LifecyclePollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// TCP port on 127.0.0.1; 0 picks a free port. HTTPS (HTTP/2 and HTTP/1.1) when the Tls section names a certificate,
    /// else cleartext HTTP/2 only (see <see cref="HttpPort"/>).
    /// </summary>
    public int Port { get; set; } = 5100;

    /// <summary>
    /// Cleartext only: a second TCP port, HTTP/1.1, for the HTTP/JSON routes (0 picks a free port; unset: none). A
    /// cleartext port cannot offer both HTTP versions (gRPC clients reach <see cref="Port"/> with HTTP/2 prior
    /// knowledge), so HTTP/1.1 clients get their own; the JSON routes answer on <see cref="Port"/> too, over HTTP/2.
    /// With TLS, <see cref="Port"/> serves both versions (ALPN) and this key must stay unset.
    /// </summary>
    public int? HttpPort { get; set; }

    /// <summary>The IP address to listen on: 127.0.0.1 by default; another (0.0.0.0 for every interface) only with TLS.</summary>
    public string? ListenAddress { get; set; }

    /// <summary>Optional file the node writes its address to once it listens, then its HTTP/1.1 address on a second line when <see cref="HttpPort"/> opens one (for scripts and the local federation).</summary>
    public string? AddressFile { get; set; }

    /// <summary>
    /// A catalogue file (protobuf JSON of mirps.catalog.v1.Catalog) to use instead of the standard catalogue
    /// built in; checked at start-up. Peers sync when their catalogue digests are equal, or when one shipped
    /// catalogue declares it maps the other (MirpsExchange.Catalogue.CatalogueUpgrade), which a catalogue of a State's own never does.
    /// </summary>
    public string? CatalogueFile { get; set; }

    /// <summary>
    /// The shipped catalogue version the node runs on when no <see cref="CatalogueFile"/> is given: the standard
    /// one (2.1.0) by default, or an earlier one ("1.0.0", "2.0.0") for a State that has installed this release but
    /// not yet moved on (it validates, accepts and reports exactly as a node of that version). Only shipped versions
    /// are accepted.
    /// </summary>
    public string CatalogueVersion { get; set; } = MirpsExchange.Catalogue.StandardCatalogue.StandardVersion;

    /// <summary>The node's own credential (JSON with client_id and client_secret), used to pull from peers.</summary>
    public string? Credential { get; set; }

    /// <summary>
    /// PEM client certificate the node presents over TLS (pulling from peers, fetching the identity
    /// server's keys, getting tokens, which are bound to it) and its key. Empty: the node's own
    /// Tls:CertificateFile/KeyFile, which `mirps certs create` makes for both server and client
    /// authentication, naming the node's State (urn:mirps:PAN) or urn:mirps:secretariat.
    /// </summary>
    public string ClientCertificateFile { get; set; } = "";

    /// <summary>Private key of <see cref="ClientCertificateFile"/>.</summary>
    public string ClientKeyFile { get; set; } = "";

    /// <summary>The client certificate to present over TLS (see <see cref="ClientCertificateFile"/>); null without TLS.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? LoadClientCertificate(MirpsExchange.ServiceDefaults.TlsOptions tls) =>
        !tls.Enabled ? null
        : ClientCertificateFile.Length > 0 ? Mirps.Tls.FederationTrust.LoadClientCertificate(ClientCertificateFile, ClientKeyFile)
        : Mirps.Tls.FederationTrust.LoadClientCertificate(tls.CertificateFile, tls.KeyFile);

    /// <summary>
    /// The PEM file of the State's log-signing key (ECDSA P-256), which signs its change log's head at every
    /// commit; made owner-only at the first start, its public half beside it (.pub.pem) to register at the
    /// identity server. Empty: log-signing-key-{country}.pem in <see cref="DataDirectory"/> (log-signing-key-secretariat.pem
    /// on the Secretariat's node, whose key signs its decision log).
    /// </summary>
    public string LogSigningKeyFile { get; set; } = "";

    /// <summary>The log-signing key's file, <see cref="LogSigningKeyFile"/> or its default.</summary>
    public string LogSigningKeyPath(string contentRoot) => Path.GetFullPath(LogSigningKeyFile.Length > 0
        ? LogSigningKeyFile
        : Path.Combine(DataDirectory, $"log-signing-key-{(Country.Length > 0 ? Country.ToLowerInvariant() : Mirps.Auth.MirpsAuth.Secretariat)}.pem"), contentRoot);

    /// <summary>
    /// A test and operations aid, unset in production: the SQLite store's size limit in pages (SQLite's max_page_count, applied
    /// to every connection). Once the store holds that many pages every write fails as on a full disk (SQLITE_FULL), reads go on;
    /// a value below the store's size means its size now. The chaos harness (docs/chaos.md) fills a node's "disk" with it.
    /// </summary>
    public long? StoreMaxPageCount { get; set; }

    /// <summary>
    /// A test and operations aid, unset in production: shifts the node's clock (its TimeProvider: recorded and received times,
    /// token and revocation-list checks) by this much, as a host whose clock drifted (the chaos harness skews nodes with it).
    /// It gives the node's operator nothing the host's own clock would not: an origin's recorded times never go back
    /// (each commit is stamped after the last), replicas refuse changes more than 5 minutes ahead of their own clock, and
    /// embargoes are enforced by the origin's node, so a skewed replica cannot release anything early.
    /// </summary>
    public TimeSpan ClockOffset { get; set; }

    /// <summary>Peers to pull changes from: each an address and the origins to pull from it.</summary>
    public List<PeerOptions> Peers { get; set; } = [];

    /// <summary>This State's sharing policy, per indicator (see <see cref="Sharing.SharingOptions"/>).</summary>
    public Sharing.SharingOptions Sharing { get; set; } = new();
}

/// <summary>One peer: configuration keys Node:Peers:0:Address, Node:Peers:0:Origins:0, ...</summary>
public sealed class PeerOptions
{
    public string Address { get; set; } = "";

    /// <summary>
    /// Whose node the peer is: a State's ISO3 code, or "secretariat". Required: the node asks for a token
    /// for that node's audience only (<c>mirps-node:PAN</c>), a peer that says it is another node is not
    /// pulled from, and a change it may not hold under the origin's policy is refused on this
    /// (configured) identity rather than on what the peer says about itself. Over TLS the peer proves it:
    /// its certificate must name that party (urn:mirps:PAN, urn:mirps:secretariat), or the handshake is
    /// refused and nothing is pulled.
    /// </summary>
    public string Country { get; set; } = "";

    /// <summary>The reader the peer is, by its configured <see cref="Country"/>.</summary>
    internal Sharing.Reader Reader => Sharing.Reader.OfNode(Country);
    public List<string> Origins { get; set; } = [];
}
