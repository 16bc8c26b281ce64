using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// Every Error or Critical log entry of an in-process test server, as grpc-dotnet's functional tests do:
/// a server that swallows an exception and logs it must not pass unnoticed. A test that provokes an
/// error on purpose says which (<see cref="Expect"/>); any other fails the test when the server is disposed.
/// </summary>
public sealed class ServerErrors : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, string EventName, string Text)> _entries = new();
    private readonly ConcurrentBag<string> _expected = [];

    /// <summary>Adds the capture to a server's builder, at Error level whatever the server's own log levels.</summary>
    public void AddTo(WebApplicationBuilder builder)
    {
        builder.Logging.AddProvider(this);
        builder.Logging.AddFilter<ServerErrors>(null, LogLevel.Error);
    }

    /// <summary>Errors whose event name or category contains <paramref name="text"/> are expected in this test.</summary>
    public void Expect(string text) => _expected.Add(text);

    /// <summary>The unexpected errors so far, one line each.</summary>
    public IReadOnlyList<string> Unexpected => [.. _entries
        .Where(e => !_expected.Any(x => e.EventName.Contains(x, StringComparison.Ordinal) || e.Category.Contains(x, StringComparison.Ordinal)))
        .Select(e => $"{e.Category} [{e.EventName}]: {e.Text}")];

    /// <summary>Fails (throws) when the server logged an error the test did not expect.</summary>
    public void AssertNoneUnexpected()
    {
        var unexpected = Unexpected;
        if (unexpected.Count > 0)
        {
            throw new Xunit.Sdk.XunitException($"The server logged {unexpected.Count} unexpected error(s):{Environment.NewLine}{string.Join(Environment.NewLine, unexpected)}");
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    /// <summary>
    /// A client that went away while its request was read (a peer's pull cancelled, or its connection dropped, as its node
    /// stops at a test's end) is the client's doing: grpc-dotnet logs it as an error of the method before the method runs,
    /// but nothing on the server failed.
    /// </summary>
    private static bool ClientWentAway(Exception? exception) => exception is IOException io
        && (io.Message.Contains("The client reset the request stream", StringComparison.Ordinal)
            || io.Message.Contains("The request stream was aborted", StringComparison.Ordinal));

    private sealed class Logger(ServerErrors owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error && !ClientWentAway(exception))
            {
                owner._entries.Enqueue((category, eventId.Name ?? eventId.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{formatter(state, exception)} {exception?.GetType().Name}: {exception?.Message} {exception?.GetBaseException().Message}"));
            }
        }
    }
}
