// A camera stand-in built on live555 (the RTSP stack much camera firmware is built on), for keepwatch's
// compatibility matrix. It serves H.264/H.265 elementary-stream files the way such firmware does: an
// encoder-like source hands one NAL unit at a time, paced in real time, to live555's *discrete* framer,
// which sets the RTP marker bit after every VCL NAL unit (so a picture made of several slices carries the
// marker on each slice). Every client gets the file from its first byte (no shared source), and at the
// end of the file live555 sends RTCP BYE: each session is a whole, known clip.
//
// Usage: kw_live555_server [--udp-only] PORT STREAM...
//   --udp-only: refuse RTP over TCP (SETUP answers 461), as some camera firmware does.
//   STREAM = name,kind,file,fps[,akind,afile][,silent=SECONDS]
//   kind: h264 | h265 | ts (MPEG-2 TS over RTP: a codec keepwatch does not support)
//   akind: aac (ADTS file) | pcmu (16-bit PCM WAV file, sent as G.711 u-law)
//   silent=S: stop sending media S seconds into each session, keeping the connection open.
// Prints "ready PORT" on stdout once it listens.

#include "BasicUsageEnvironment.hh"
#include "liveMedia.hh"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <sys/time.h>
#include <vector>

namespace {

struct Nal {
  size_t offset;
  size_t len;
  unsigned picture;  // index of the access unit this NAL unit belongs to
};

// The NAL units of an Annex B file, with the picture each belongs to (H.264 7.4.1.2.3 / H.265 7.4.2.4.4:
// an AUD, parameter set or prefix SEI after a VCL NAL unit, or a VCL NAL unit that starts a picture,
// begins a new access unit).
struct Elementary {
  std::vector<unsigned char> data;
  std::vector<Nal> nals;
  bool h265 = false;
  std::vector<unsigned char> vps, sps, pps;
  // Presentation index of each picture (in decode order), from `<clip>.pts` when the clip has B-frames:
  // RTP timestamps are presentation times, so a B-frame stream's go back and forth as a camera's do.
  std::vector<unsigned> presentation;

  unsigned type(const Nal& n) const {
    unsigned char b = data[n.offset];
    return h265 ? (b >> 1) & 0x3f : b & 0x1f;
  }
  bool is_vcl(unsigned t) const { return h265 ? t < 32 : (t >= 1 && t <= 5); }
  bool begins_au(unsigned t) const {
    return h265 ? (t >= 32 && t <= 35) || t == 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55)
                : t == 6 || t == 7 || t == 8 || t == 9 || (t >= 14 && t <= 18);
  }
  bool first_slice(const Nal& n) const {
    size_t hdr = h265 ? 2 : 1;
    return n.len > hdr && (data[n.offset + hdr] & 0x80) != 0;
  }

  bool load(const char* path, bool is_h265) {
    h265 = is_h265;
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    data.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    std::vector<size_t> starts;  // first byte after each start code
    for (size_t i = 0; i + 3 <= data.size(); i++) {
      if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) {
        starts.push_back(i + 3);
        i += 2;
      }
    }
    unsigned picture = 0;
    bool seen_vcl = false;
    for (size_t k = 0; k < starts.size(); k++) {
      size_t end = k + 1 < starts.size() ? starts[k + 1] - 3 : data.size();
      while (end > starts[k] && data[end - 1] == 0) end--;  // trailing zero bytes / 4-byte start codes
      if (end <= starts[k]) continue;
      Nal n{starts[k], end - starts[k], 0};
      unsigned t = type(n);
      if (seen_vcl && (begins_au(t) || (is_vcl(t) && first_slice(n)))) {
        picture++;
        seen_vcl = false;
      }
      if (is_vcl(t)) seen_vcl = true;
      n.picture = picture;
      std::vector<unsigned char> copy(data.begin() + n.offset, data.begin() + n.offset + n.len);
      if (h265) {
        if (t == 32 && vps.empty()) vps = copy;
        if (t == 33 && sps.empty()) sps = copy;
        if (t == 34 && pps.empty()) pps = copy;
      } else {
        if (t == 7 && sps.empty()) sps = copy;
        if (t == 8 && pps.empty()) pps = copy;
      }
      nals.push_back(n);
    }
    std::ifstream order(std::string(path) + ".pts");
    unsigned p;
    while (order >> p) presentation.push_back(p);
    return !nals.empty() && !sps.empty() && !pps.empty() && (!h265 || !vps.empty());
  }
};

// Hands out one NAL unit per request, each picture's at its due time (start + picture / fps), like a
// live encoder does.
class NalSource : public FramedSource {
 public:
  NalSource(UsageEnvironment& env, const Elementary& es, double fps, double silent_after)
      : FramedSource(env), es_(es), fps_(fps), silent_after_(silent_after) {
    gettimeofday(&start_, nullptr);
  }
  ~NalSource() override { envir().taskScheduler().unscheduleDelayedTask(task_); }

 private:
  void doGetNextFrame() override {
    if (next_ >= es_.nals.size()) {
      handleClosure();
      return;
    }
    double due = es_.nals[next_].picture / fps_;
    if (silent_after_ > 0 && due >= silent_after_) return;  // silent: never deliver again
    struct timeval now;
    gettimeofday(&now, nullptr);
    double elapsed = (now.tv_sec - start_.tv_sec) + (now.tv_usec - start_.tv_usec) / 1e6;
    int64_t wait_us = due > elapsed ? (int64_t)((due - elapsed) * 1e6) : 0;
    task_ = envir().taskScheduler().scheduleDelayedTask(wait_us, deliver, this);
  }

  void doStopGettingFrames() override {
    envir().taskScheduler().unscheduleDelayedTask(task_);
    task_ = nullptr;
  }

  static void deliver(void* self) { static_cast<NalSource*>(self)->deliver1(); }

  void deliver1() {
    task_ = nullptr;
    const Nal& n = es_.nals[next_++];
    unsigned size = (unsigned)n.len;
    fNumTruncatedBytes = 0;
    if (size > fMaxSize) {
      fNumTruncatedBytes = size - fMaxSize;
      size = fMaxSize;
    }
    memcpy(fTo, &es_.data[n.offset], size);
    fFrameSize = size;
    // A B-frame stream's presentation runs two pictures behind its decoding, as an encoder's does.
    bool reordered = n.picture < es_.presentation.size();
    double shown = reordered ? (es_.presentation[n.picture] + 2) / fps_ : n.picture / fps_;
    int64_t us = (int64_t)start_.tv_usec + (int64_t)(shown * 1e6);
    fPresentationTime.tv_sec = start_.tv_sec + (time_t)(us / 1000000);
    fPresentationTime.tv_usec = (suseconds_t)(us % 1000000);
    fDurationInMicroseconds = 0;
    FramedSource::afterGetting(this);
  }

  const Elementary& es_;
  double fps_;
  double silent_after_;
  struct timeval start_;
  size_t next_ = 0;
  TaskToken task_ = nullptr;
};

class CameraSubsession : public OnDemandServerMediaSubsession {
 public:
  CameraSubsession(UsageEnvironment& env, const Elementary& es, double fps, double silent_after)
      : OnDemandServerMediaSubsession(env, False), es_(es), fps_(fps), silent_after_(silent_after) {}

 private:
  FramedSource* createNewStreamSource(unsigned, unsigned& bitrate) override {
    bitrate = 4000;
    FramedSource* src = new NalSource(envir(), es_, fps_, silent_after_);
    if (es_.h265) return H265VideoStreamDiscreteFramer::createNew(envir(), src);
    return H264VideoStreamDiscreteFramer::createNew(envir(), src);
  }

  RTPSink* createNewRTPSink(Groupsock* gs, unsigned char pt, FramedSource*) override {
    if (es_.h265)
      return H265VideoRTPSink::createNew(envir(), gs, pt, es_.vps.data(), (unsigned)es_.vps.size(), es_.sps.data(),
                                         (unsigned)es_.sps.size(), es_.pps.data(), (unsigned)es_.pps.size());
    return H264VideoRTPSink::createNew(envir(), gs, pt, es_.sps.data(), (unsigned)es_.sps.size(), es_.pps.data(),
                                       (unsigned)es_.pps.size());
  }

  const Elementary& es_;
  double fps_;
  double silent_after_;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool udp_only = false;
  if (argc > 1 && strcmp(argv[1], "--udp-only") == 0) {
    udp_only = true;
    argv++;
    argc--;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: %s PORT name,kind,file,fps[,akind,afile][,silent=S]...\n", argv[0]);
    return 2;
  }
  TaskScheduler* scheduler = BasicTaskScheduler::createNew();
  UsageEnvironment* env = BasicUsageEnvironment::createNew(*scheduler);
  RTSPServer* server = RTSPServer::createNew(*env, Port((portNumBits)atoi(argv[1])), nullptr);
  if (server == nullptr) {
    fprintf(stderr, "cannot start the RTSP server: %s\n", env->getResultMsg());
    return 1;
  }
  if (udp_only) server->disableStreamingRTPOverTCP();
  for (int i = 2; i < argc; i++) {
    std::vector<std::string> f = split(argv[i], ',');
    if (f.size() < 4) {
      fprintf(stderr, "bad stream %s\n", argv[i]);
      return 2;
    }
    double silent = 0;
    std::vector<std::string> audio;
    for (size_t k = 4; k < f.size(); k++) {
      if (f[k].rfind("silent=", 0) == 0)
        silent = atof(f[k].c_str() + 7);
      else
        audio.push_back(f[k]);
    }
    ServerMediaSession* sms = ServerMediaSession::createNew(*env, f[0].c_str(), f[0].c_str(), "keepwatch test camera");
    if (f[1] == "ts") {
      sms->addSubsession(MPEG2TransportFileServerMediaSubsession::createNew(*env, f[2].c_str(), nullptr, False));
    } else {
      Elementary* es = new Elementary();  // lives as long as the server
      if (!es->load(f[2].c_str(), f[1] == "h265")) {
        fprintf(stderr, "%s: not an H.264/H.265 elementary stream with parameter sets\n", f[2].c_str());
        return 1;
      }
      sms->addSubsession(new CameraSubsession(*env, *es, atof(f[3].c_str()), silent));
    }
    if (audio.size() == 2) {
      if (audio[0] == "aac")
        sms->addSubsession(ADTSAudioFileServerMediaSubsession::createNew(*env, audio[1].c_str(), False));
      else if (audio[0] == "pcmu")
        sms->addSubsession(WAVAudioFileServerMediaSubsession::createNew(*env, audio[1].c_str(), False, True));
    }
    server->addServerMediaSession(sms);
  }
  printf("ready %s\n", argv[1]);
  fflush(stdout);
  env->taskScheduler().doEventLoop();
  return 0;
}
