# Measures face_encodings per photo on face_recognition's test photos: serial vs 2 threads.
import sys, time, threading
import siamface.face_recognition as fr
d = sys.argv[1]
imgs = [fr.load_image_file(d + "/" + n) for n in ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]]
fr.face_encodings(imgs[0])
def work():
    for _ in range(3):
        for i in imgs: fr.face_encodings(i)
t = time.perf_counter(); work(); serial = (time.perf_counter() - t) / 12
t = time.perf_counter(); th = [threading.Thread(target=work) for _ in range(2)]
[x.start() for x in th]; [x.join() for x in th]
par = (time.perf_counter() - t) / 24
print("face_encodings: serial %.0f ms/photo, 2 threads %.0f ms/photo (%.2fx)" % (serial * 1e3, par * 1e3, serial / par))
