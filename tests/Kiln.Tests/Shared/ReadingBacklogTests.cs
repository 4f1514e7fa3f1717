using Kiln.Shared.Readings;

namespace Kiln.Tests.Shared;

/// <summary>When the broker's log is not the one read before: the signs a restarted broker leaves, and none in a log that grows.</summary>
public sealed class ReadingBacklogTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.UnixEpoch;

    private static ReadingBacklog Backlog(params (long End, long Committed)[] partitions) =>
        new(At, [.. partitions.Select((p, i) => new PartitionBacklog(i, 0, p.End, p.Committed))]);

    [Fact]
    public void A_log_that_grows_and_is_consumed_is_the_same_log() =>
        Assert.Null(Backlog((120, 110), (5, -1)).Replaces(Backlog((100, 90), (0, -1))));

    [Fact]
    public void An_end_offset_that_went_back_means_a_lost_log() =>
        Assert.Contains("end offset went back from 100 to 1", Backlog((1, -1), (0, -1)).Replaces(Backlog((100, 90), (0, -1))), StringComparison.Ordinal);

    [Fact]
    public void A_commit_past_the_end_means_a_lost_log() =>
        Assert.Contains("committed offset 90 is past its end offset 2", Backlog((200, 150), (2, 90)).Replaces(Backlog((100, 90), (1, 1))), StringComparison.Ordinal);

    [Fact]
    public void Commits_the_group_no_longer_has_mean_a_lost_broker_state() =>
        Assert.Contains("committed offsets on 2 of 3 partitions are gone",
            Backlog((300, -1), (200, -1), (100, 100)).Replaces(Backlog((3, 3), (2, 2), (1, 1))), StringComparison.Ordinal);
}
