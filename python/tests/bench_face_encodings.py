"""face_encodings per photo on face_recognition's test photos, serially and on 2 threads sharing
the engine (docs/python.md, "Tests"). OpenCV's own threads are set to 1 so that the two
threads, not OpenCV, use the cores.

    PYTHONPATH=build/python python3 python/tests/bench_face_encodings.py DIR_WITH_OBAMA_AND_BIDEN_JPGS
"""
import sys
import threading
import time

import siamface
import siamface.face_recognition as fr

folder = sys.argv[1]
siamface.set_intra_op_threads(1)
images = [fr.load_image_file(folder + "/" + n) for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")]
# Opens the engine, and lets each thread's first calls build their own network sessions.
warm = [threading.Thread(target=fr.face_encodings, args=(images[0],)) for _ in range(2)]
for t in warm:
    t.start()
for t in warm:
    t.join()


def work(rounds=3):
    for _ in range(rounds):
        for image in images:
            fr.face_encodings(image)


start = time.perf_counter()
work()
serial = (time.perf_counter() - start) / (3 * len(images))
threads = [threading.Thread(target=work) for _ in range(2)]
start = time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
parallel = (time.perf_counter() - start) / (2 * 3 * len(images))
print("face_encodings: serial %.0f ms/photo, 2 threads %.0f ms/photo (%.2fx throughput)"
      % (serial * 1e3, parallel * 1e3, serial / parallel))
