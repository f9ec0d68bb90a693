// What the player pages record for the test (window.state): the player library's version, player errors,
// every frame shown (its media time and height, from requestVideoFrameCallback), what was done when
// (`note`), and whether playback ended.
function recordPlayback(video, library) {
  const state = (window.state = {library, errors: [], shown: [], actions: [], ended: false});
  const note = (what) => state.actions.push([what, +video.currentTime.toFixed(4)]);
  const onFrame = (_, meta) => {
    state.shown.push([meta.mediaTime, meta.height]);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  video.addEventListener("error", () => state.errors.push(`video: ${video.error && video.error.message}`));
  video.addEventListener("ended", () => { state.ended = true; });
  return {state, note};
}
