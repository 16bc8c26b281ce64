using System.Buffers;
using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Mirps.Observation.V1;

namespace MirpsExchange.Node.Grpc;

/// <summary>
/// Decodes SubmitObservations' requests with the observations' texts pooled (<see cref="PooledObservationReader"/>, as a
/// replica decodes its feed): Google.Protobuf's parser made a string per text field per row, about 70,000 strings for a
/// batch of 10,000, which the garbage collector then paused every thread for, the one writing under the gate included.
/// It reads the encoding Google.Protobuf writes; anything else it does not expect (a field it does not know, a group)
/// goes to Google.Protobuf's own parser, so the request is the same message either way, and what that parser refuses
/// (a truncated message, a text that is not UTF-8) is refused alike, before the service sees the call.
/// </summary>
internal static class SubmitRequestDecoder
{
    /// <summary>
    /// Readers kept between calls (each call takes one for itself: calls decode in parallel). A reader whose pool is full
    /// is not kept, so texts a caller made up do not stay; each holds at most 8,192 texts of at most 128 characters.
    /// </summary>
    private const int KeptReaders = 4;

    private static readonly ConcurrentBag<PooledObservationReader> Readers = [];

    /// <summary>How many readers <see cref="Readers"/> holds (its Count then Add let a burst of calls keep more than <see cref="KeptReaders"/>).</summary>
    private static int _kept;

    /// <summary>SubmitObservations as generated, its request decoded here.</summary>
    public static readonly Method<SubmitObservationsRequest, SubmitObservationsResponse> Method = new(
        MethodType.Unary, ObservationService.Descriptor.FullName, nameof(ObservationService.ObservationServiceBase.SubmitObservations),
        Marshallers.Create<SubmitObservationsRequest>((r, context) => context.Complete(r.ToByteArray()), context => Decode(context.PayloadAsReadOnlySequence())),
        Marshallers.Create<SubmitObservationsResponse>((r, context) => context.Complete(r.ToByteArray()), context => SubmitObservationsResponse.Parser.ParseFrom(context.PayloadAsReadOnlySequence())));

    public static SubmitObservationsRequest Decode(ReadOnlySequence<byte> payload) => WireReader.Contiguous<SubmitObservationsRequest>(payload, Decode);

    public static SubmitObservationsRequest Decode(ReadOnlySpan<byte> payload)
    {
        var texts = Readers.TryTake(out var kept) ? Taken(kept) : new PooledObservationReader();
        try
        {
            try
            {
                if (TryDecode(payload, texts) is { } request)
                {
                    return request;
                }
            }
            catch (MalformedWireException)
            {
                // Google.Protobuf's parser below throws its own error for it (InvalidProtocolBufferException).
            }
            return SubmitObservationsRequest.Parser.ParseFrom(payload);
        }
        finally
        {
            if (!texts.Full && Interlocked.Increment(ref _kept) <= KeptReaders)
            {
                Readers.Add(texts);
            }
            else if (!texts.Full)
            {
                Interlocked.Decrement(ref _kept);
            }
        }
    }

    private static PooledObservationReader Taken(PooledObservationReader reader)
    {
        Interlocked.Decrement(ref _kept);
        return reader;
    }

    /// <summary>The request decoded; null for an encoding left to Google.Protobuf.</summary>
    private static SubmitObservationsRequest? TryDecode(ReadOnlySpan<byte> payload, PooledObservationReader texts)
    {
        var request = new SubmitObservationsRequest();
        var reader = new WireReader(payload);
        while (!reader.End)
        {
            var (field, type) = reader.Tag();
            switch (field, type)
            {
                case (1, WireType.LengthDelimited):
                    request.RequestId = PooledObservationReader.Unpooled(reader.Bytes()); // one per call: not worth a place in the pool
                    break;
                case (2, WireType.LengthDelimited):
                    var observation = new Observation();
                    if (!texts.ReadObservation(reader.Bytes(), observation))
                    {
                        return null;
                    }
                    request.Observations.Add(observation);
                    break;
                default:
                    return null;
            }
        }
        return request;
    }

    /// <summary>
    /// Binds a service as <paramref name="inner"/> would, SubmitObservations with <see cref="Method"/> (its request decoded
    /// here): the same name, handler and response, so gRPC, JSON transcoding and reflection see the same method.
    /// </summary>
    internal sealed class Binder(ServiceBinderBase inner) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            if (method.FullName == Method.FullName && Method is Method<TRequest, TResponse> pooled)
            {
                inner.AddMethod(pooled, handler);
                return;
            }
            inner.AddMethod(method, handler);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(method, handler);
    }
}
